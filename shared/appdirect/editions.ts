import { findProduct } from '../orders/catalogue.ts';
import type { AppDirectOrder } from './events.ts';

/**
 * How AppDirect editions and pricing units map onto the hub's product catalogue. An edition (or
 * add-on offering) is one catalogue product; its quantity is the sum of the order items sold in
 * that product's unit (USER → seats…), else the edition's default. Items in a unit another
 * product is sold in (GIGABYTE → storage) become a line of that product. USER items of a product not
 * sold per seat are informational. A real listing replaces these codes with its own editions.
 */
export interface EditionMapping {
  productCode: string;
  /** Quantity when the order carries no item in the product's unit. */
  defaultQuantity: number;
}

export const appDirectEditions: Readonly<Record<string, EditionMapping>> = {
  BASIC: { productCode: 'SB-PRO', defaultQuantity: 5 },
  PROFESSIONAL: { productCode: 'SB-PRO', defaultQuantity: 5 },
  PREMIUM: { productCode: 'SB-ENT', defaultQuantity: 25 },
  ENTERPRISE: { productCode: 'SB-ENT', defaultQuantity: 25 },
  // The edition of the SDK's SUBSCRIPTION_CHANGE fixture.
  DME: { productCode: 'SB-ENT', defaultQuantity: 25 },
  // Add-on editions (the SDK's add-on fixtures) and offerings.
  'addon-edition': { productCode: 'SB-STORAGE', defaultQuantity: 100 },
  STORAGE: { productCode: 'SB-STORAGE', defaultQuantity: 100 },
  API: { productCode: 'SB-API', defaultQuantity: 100_000 },
};

/** AppDirect pricing units → catalogue unit, and the product sold in it when it is not the edition's. */
export const appDirectUnits: Readonly<Record<string, { unit: string; productCode?: string }>> = {
  USER: { unit: 'seat' },
  SEAT: { unit: 'seat' },
  GIGABYTE: { unit: 'GB', productCode: 'SB-STORAGE' },
  API_CALLS: { unit: 'api-call', productCode: 'SB-API' },
};

export interface MappedLine {
  productCode: string;
  quantity: number;
  unit: string;
}

export type MappingResult = { ok: true; lines: MappedLine[] } | { ok: false; message: string };

const MAX_QUANTITY = 1_000_000;

/** The order lines of an AppDirect order (edition + items), or why the hub cannot sell it. */
export function linesForOrder(
  order: Pick<AppDirectOrder, 'editionCode' | 'addonOfferingCode' | 'items'>,
): MappingResult {
  const code = order.addonOfferingCode || order.editionCode;
  if (!code) return { ok: false, message: 'The order names no edition.' };
  const edition = Object.hasOwn(appDirectEditions, code) ? appDirectEditions[code] : undefined;
  const product = edition ? findProduct(edition.productCode) : undefined;
  if (!edition || !product)
    return { ok: false, message: `Edition ${code} is not sold through this connector.` };
  const totals = new Map<string, { unit: string; quantity: number }>();
  const add = (productCode: string, unit: string, quantity: number) => {
    const line = totals.get(productCode) ?? { unit, quantity: 0 };
    line.quantity += quantity;
    totals.set(productCode, line);
  };
  for (const item of order.items ?? []) {
    const unitKey = item.unit.toUpperCase();
    const mapped = Object.hasOwn(appDirectUnits, unitKey) ? appDirectUnits[unitKey] : undefined;
    if (!mapped) return { ok: false, message: `Unit ${item.unit} is not sold through this connector.` };
    if (item.quantity === 0) continue;
    if (product.units.includes(mapped.unit)) add(product.productCode, mapped.unit, item.quantity);
    else if (mapped.productCode && findProduct(mapped.productCode)?.units.includes(mapped.unit))
      add(mapped.productCode, mapped.unit, item.quantity);
    // else: USER items of a product not sold per seat say how many users bought it; nothing to bill.
  }
  if (!totals.has(product.productCode)) add(product.productCode, product.units[0]!, edition.defaultQuantity);
  const lines = [...totals].map(([productCode, l]) => ({
    productCode,
    unit: l.unit,
    quantity: Math.ceil(l.quantity),
  }));
  const tooMany = lines.find((l) => l.quantity > MAX_QUANTITY);
  if (tooMany)
    return { ok: false, message: `A quantity of ${tooMany.quantity} is more than this connector sells.` };
  // The edition's own product first: it is the subscription's base plan.
  lines.sort((a, b) =>
    a.productCode === product.productCode ? -1 : b.productCode === product.productCode ? 1 : 0,
  );
  return { ok: true, lines };
}

/** Seats a set of lines grants (lines sold per seat); undefined when none is: no seat limit. */
export function seatLimit(lines: readonly MappedLine[]): number | undefined {
  const seats = lines.filter((l) => l.unit === 'seat');
  return seats.length ? seats.reduce((n, l) => n + l.quantity, 0) : undefined;
}
