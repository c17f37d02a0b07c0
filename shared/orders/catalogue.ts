/**
 * The product catalogue: which product codes channels may order, and how each maps onto Zuora
 * (product rate plan and its per-unit recurring charge) and onto the licence. Used by order
 * validation, billing provisioning, licensing and the Zuora sandbox (which only knows these plans).
 * A real deployment replaces these ids with the vendor's Zuora catalogue ids.
 */
export interface CatalogueProduct {
  productCode: string;
  name: string;
  /** Units the product is sold in (a line must use one of them). */
  units: readonly string[];
  zuora: { productRatePlanId: string; productRatePlanChargeId: string; uom: string };
  /** Licence term when the line does not state one. */
  defaultTermMonths: number;
}

export const catalogue: Readonly<Record<string, CatalogueProduct>> = {
  'SB-PRO': {
    productCode: 'SB-PRO',
    name: 'Switchboard Professional',
    units: ['seat'],
    zuora: {
      productRatePlanId: '8ad081dd9096ef9501909b40bb4e74a4',
      productRatePlanChargeId: '8ad081dd9096ef9501909b40bb6674a6',
      uom: 'seat',
    },
    defaultTermMonths: 12,
  },
  'SB-ENT': {
    productCode: 'SB-ENT',
    name: 'Switchboard Enterprise',
    units: ['seat'],
    zuora: {
      productRatePlanId: '8ad081dd9096ef9501909b40bb4e74b1',
      productRatePlanChargeId: '8ad081dd9096ef9501909b40bb6674b2',
      uom: 'seat',
    },
    defaultTermMonths: 12,
  },
  'SB-API': {
    productCode: 'SB-API',
    name: 'Switchboard API calls',
    units: ['api-call', 'kcall'],
    zuora: {
      productRatePlanId: '8ad081dd9096ef9501909b40bb4e74c1',
      productRatePlanChargeId: '8ad081dd9096ef9501909b40bb6674c2',
      uom: 'api-call',
    },
    defaultTermMonths: 12,
  },
  'SB-STORAGE': {
    productCode: 'SB-STORAGE',
    name: 'Switchboard storage',
    units: ['GB'],
    zuora: {
      productRatePlanId: '8ad081dd9096ef9501909b40bb4e74d1',
      productRatePlanChargeId: '8ad081dd9096ef9501909b40bb6674d2',
      uom: 'GB',
    },
    defaultTermMonths: 12,
  },
};

export function findProduct(productCode: string): CatalogueProduct | undefined {
  return Object.hasOwn(catalogue, productCode) ? catalogue[productCode] : undefined;
}

/** The catalogue product whose Zuora rate plan is `productRatePlanId` (Zuora sandbox, registry). */
export function productByRatePlan(productRatePlanId: string): CatalogueProduct | undefined {
  return Object.values(catalogue).find((p) => p.zuora.productRatePlanId === productRatePlanId);
}
