import { findProduct } from '../../shared/orders/catalogue.ts';
import { type OrderRequest, orderRequestSchema } from '../../shared/orders/contract.ts';

/**
 * SaaShop order (UBL 2.1 in JSON) → the hub's {@link OrderRequest}. SaaShop's JSON names UBL elements
 * in lowerCamelCase (`BuyerCustomerParty` → `buyerCustomerParty`, `ID` → `id`), calls the order's
 * `ID` `orderId` and its `OrderLine`s `documentLines`; a leaf that has attributes in UBL is
 * `{value, unitCode|currencyID…}` or a bare value, and a repeatable element is an array or a single
 * object. The mapping table is in the README (SaaShop section).
 *
 * Every problem is collected (not only the first), each with a code operators can filter on and the
 * UBL path it concerns. Messages never quote personal data (names, e-mails, addresses): they are
 * stored on the failed event and sent to SaaShop as the `ProvisioningFailed` description.
 */

export type NormaliseProblemCode =
  | 'MALFORMED_ORDER'
  | 'UNSUPPORTED_DOCUMENT'
  | 'UNSUPPORTED_ORDER_TYPE'
  | 'UNSUPPORTED_CURRENCY'
  | 'MISSING_BUYER_ADDRESS'
  | 'MISSING_BUYER_CONTACT'
  | 'UNKNOWN_PRODUCT'
  | 'UNSUPPORTED_UNIT'
  | 'INVALID_ORDER';

export interface NormaliseProblem {
  code: NormaliseProblemCode;
  /** Path in the SaaShop order, e.g. `documentLines.0.lineItem.item.sellersItemIdentification.id`. */
  field: string;
  message: string;
}

export interface NormaliseSettings {
  /** ISO 4217 codes the seller sells in on SaaShop. */
  currencies: readonly string[];
  /** The marketplace as the order's partner (it receives the licence e-mail copy). */
  partner: { name: string; id: string; contact: { firstName: string; lastName: string; email: string } };
}

export type NormaliseResult =
  | { ok: true; order: OrderRequest }
  | { ok: false; code: NormaliseProblemCode; reason: string; problems: NormaliseProblem[] };

/** Generic UN/ECE Rec. 20 count units, read as the product's own unit when it is sold by count. */
const COUNT_UNITS = new Set(['C62', 'EA', 'H87', 'IE', 'NAR', 'PCE', 'XPP']);
/** UN/ECE units that are one of the catalogue's units under another name. */
const UNECE_UNITS: Record<string, string> = { E34: 'GB' };

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const asArray = (v: unknown): unknown[] => (v === undefined || v === null ? [] : Array.isArray(v) ? v : [v]);
const firstObj = (v: unknown): Obj | undefined => asArray(v).find(isObj);

/** A UBL leaf as trimmed text: a string, a number, `{value}` or the first of an array. */
function text(v: unknown): string | undefined {
  if (Array.isArray(v)) return text(v[0]);
  if (isObj(v)) return text(v.value);
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  if (typeof v !== 'string') return undefined;
  const t = v.trim();
  return t ? t : undefined;
}

function num(v: unknown): number | undefined {
  const t = text(v);
  if (t === undefined || !/^-?\d+(\.\d+)?$/.test(t)) return undefined;
  return Number(t);
}

/** An attribute of a UBL leaf (`{value, unitCode}`), if the leaf has it. */
const attr = (v: unknown, name: string): string | undefined => {
  const o = firstObj(v);
  return o ? text(o[name]) : undefined;
};

/** Product codes and currency codes are SaaShop's catalogue data (safe to repeat), but bounded. */
const quote = (s: string) => JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s);

function monthsBetween(start: string | undefined, end: string | undefined): number | undefined {
  const s = start ? Date.parse(start) : Number.NaN;
  const e = end ? Date.parse(end) : Number.NaN;
  if (Number.isNaN(s) || Number.isNaN(e) || e <= s) return undefined;
  return Math.min(120, Math.max(1, Math.round((e - s) / (30.4375 * 86_400_000))));
}

/**
 * Which UBL document this is when it is not a new order: cancellations, changes and responses all
 * refer to an earlier order (`orderReference`). SaaShop does not define them for sellers, so they are
 * reported unsupported rather than guessed at.
 */
function otherDocument(raw: Obj): string | undefined {
  if ('cancellationNote' in raw) return 'OrderCancellation';
  if ('sequenceNumberID' in raw) return 'OrderChange';
  if ('acceptedIndicator' in raw || 'orderResponseCode' in raw) return 'OrderResponse';
  if ('orderReference' in raw) return 'document referring to an earlier order';
  return undefined;
}

const FIELD_PATHS: Record<string, string> = {
  'sellTo.company': 'buyerCustomerParty.party.partyName.name',
  'sellTo.contact.firstName': 'buyerCustomerParty.party.person.firstName',
  'sellTo.contact.lastName': 'buyerCustomerParty.party.person.familyName',
  'sellTo.contact.email': 'buyerCustomerParty.party.contact.electronicMail',
  'sellTo.contact.phone': 'buyerCustomerParty.party.contact.telephone',
  'sellTo.address.line1': 'buyerCustomerParty.party.postalAddress.streetName',
  'sellTo.address.line2': 'buyerCustomerParty.party.postalAddress.additionalStreetName',
  'sellTo.address.city': 'buyerCustomerParty.party.postalAddress.cityName',
  'sellTo.address.region': 'buyerCustomerParty.party.postalAddress.countrySubentity',
  'sellTo.address.postalCode': 'buyerCustomerParty.party.postalAddress.postalZone',
  'sellTo.address.country': 'buyerCustomerParty.party.postalAddress.country.identificationCode',
  channelOrderId: 'orderId',
};

/** Maps a SaaShop order onto an OrderRequest, or lists every reason it cannot be. */
export function normaliseSaashopOrder(raw: unknown, settings: NormaliseSettings): NormaliseResult {
  const problems: NormaliseProblem[] = [];
  const problem = (code: NormaliseProblemCode, field: string, message: string) =>
    problems.push({ code, field, message });
  if (!isObj(raw))
    return fail([{ code: 'MALFORMED_ORDER', field: '(order)', message: 'is not a JSON object' }]);
  const other = otherDocument(raw);
  if (other) {
    return fail([
      {
        code: 'UNSUPPORTED_DOCUMENT',
        field: '(order)',
        message: `is a UBL ${other}, which the SaaShop API does not define for sellers; it is not processed`,
      },
    ]);
  }

  const orderId = text(raw.orderId);
  if (!orderId) problem('MALFORMED_ORDER', 'orderId', 'is required');
  const issueDate = text(raw.issueDate);
  if (!issueDate || !/^\d{4}-\d{2}-\d{2}$/.test(issueDate))
    problem('MALFORMED_ORDER', 'issueDate', 'is required as YYYY-MM-DD');

  const typeCode = text(raw.orderTypeCode);
  const orderType =
    typeCode === 'Purchase' || typeCode === 'Trial' || typeCode === 'Evaluation' ? typeCode : undefined;
  if (!typeCode) problem('MALFORMED_ORDER', 'orderTypeCode', 'is required');
  else if (!orderType)
    problem(
      'UNSUPPORTED_ORDER_TYPE',
      'orderTypeCode',
      `${quote(typeCode)} is not Purchase, Trial or Evaluation`,
    );

  const currency = text(raw.documentCurrencyCode);
  if (!currency || !/^[A-Z]{3}$/.test(currency))
    problem('MALFORMED_ORDER', 'documentCurrencyCode', 'is required as an ISO 4217 code');
  else if (!settings.currencies.includes(currency))
    problem(
      'UNSUPPORTED_CURRENCY',
      'documentCurrencyCode',
      `${quote(currency)} is not sold on SaaShop (supported: ${settings.currencies.join(', ')})`,
    );

  if (raw.validityPeriod !== undefined && !isObj(raw.validityPeriod))
    problem('MALFORMED_ORDER', 'validityPeriod', 'must be an object {startDate, endDate}');
  if (!isObj(raw.sellerSupplierParty)) problem('MALFORMED_ORDER', 'sellerSupplierParty', 'is required');
  const validity = isObj(raw.validityPeriod) ? raw.validityPeriod : {};
  const termMonths = monthsBetween(text(validity.startDate) ?? issueDate, text(validity.endDate));

  const sellTo = buyer(raw.buyerCustomerParty, problem);
  const lines = orderLines(raw.documentLines, currency, termMonths, problem);

  if (problems.length) return fail(problems);
  const candidate = {
    channelOrderId: orderId,
    orderType,
    currency,
    sellTo,
    partner: settings.partner,
    lines,
  };
  const parsed = orderRequestSchema.safeParse(candidate);
  if (!parsed.success) {
    return fail(
      parsed.error.issues.map((i) => {
        const path = i.path.map(String).join('.');
        return { code: 'INVALID_ORDER', field: FIELD_PATHS[path] ?? path, message: i.message };
      }),
    );
  }
  return { ok: true, order: parsed.data };
}

function fail(problems: NormaliseProblem[]): NormaliseResult {
  // The most specific code names the failure (a missing address matters more than a later typo).
  const order: NormaliseProblemCode[] = [
    'UNSUPPORTED_DOCUMENT',
    'MALFORMED_ORDER',
    'UNKNOWN_PRODUCT',
    'UNSUPPORTED_CURRENCY',
    'MISSING_BUYER_ADDRESS',
    'MISSING_BUYER_CONTACT',
    'UNSUPPORTED_ORDER_TYPE',
    'UNSUPPORTED_UNIT',
    'INVALID_ORDER',
  ];
  const code = order.find((c) => problems.some((p) => p.code === c)) ?? problems[0]!.code;
  const reason = problems
    .map((p) => `${p.field}: ${p.message}`)
    .join('; ')
    .slice(0, 1000);
  return { ok: false, code, reason, problems };
}

type Report = (code: NormaliseProblemCode, field: string, message: string) => void;

function buyer(value: unknown, problem: Report): OrderRequest['sellTo'] | undefined {
  const base = 'buyerCustomerParty';
  if (!isObj(value)) {
    problem('MALFORMED_ORDER', base, 'is required');
    return undefined;
  }
  // The party normally sits under `party`; a flattened party is read the same way.
  const party = firstObj(value.party) ?? value;
  const legal = firstObj(party.partyLegalEntity);
  const company = text(firstObj(party.partyName)?.name) ?? text(legal?.registrationName);
  if (!company) problem('MALFORMED_ORDER', `${base}.party.partyName.name`, 'the buyer has no name');

  const postal = firstObj(party.postalAddress);
  let address: OrderRequest['sellTo']['address'] | undefined;
  if (!postal) {
    problem('MISSING_BUYER_ADDRESS', `${base}.party.postalAddress`, 'the buyer has no postal address');
  } else {
    const street = text(postal.streetName) ?? text(firstObj(postal.addressLine)?.line);
    const line1 = street ? [street, text(postal.buildingNumber)].filter(Boolean).join(' ') : undefined;
    const city = text(postal.cityName);
    const country = text(firstObj(postal.country)?.identificationCode);
    const where = `${base}.party.postalAddress`;
    if (!line1) problem('MISSING_BUYER_ADDRESS', `${where}.streetName`, 'the buyer address has no street');
    if (!city) problem('MISSING_BUYER_ADDRESS', `${where}.cityName`, 'the buyer address has no city');
    if (!country)
      problem(
        'MISSING_BUYER_ADDRESS',
        `${where}.country.identificationCode`,
        'the buyer address has no country',
      );
    if (line1 && city && country) {
      const line2 = text(postal.additionalStreetName);
      const region = text(postal.countrySubentity);
      const postalCode = text(postal.postalZone);
      address = {
        line1,
        ...(line2 ? { line2 } : {}),
        city,
        ...(region ? { region } : {}),
        ...(postalCode ? { postalCode } : {}),
        country,
      };
    }
  }

  // The buyer's person and contact channel, else one of the party-level contacts UBL allows.
  const person = firstObj(party.person);
  const partyContact = firstObj(party.contact);
  const fallback = [value.buyerContact, value.accountingContact, value.deliveryContact]
    .map(firstObj)
    .find((c) => c && text(c.electronicMail));
  const email = text(partyContact?.electronicMail) ?? text(fallback?.electronicMail);
  const phone = text(partyContact?.telephone) ?? text(fallback?.telephone);
  let firstName = text(person?.firstName);
  let lastName = text(person?.familyName);
  if (!firstName || !lastName) {
    const words = (text(partyContact?.name) ?? text(fallback?.name) ?? '').split(/\s+/).filter(Boolean);
    if (words.length >= 2) {
      firstName ??= words.slice(0, -1).join(' ');
      lastName ??= words.at(-1);
    }
  }
  if (!email)
    problem(
      'MISSING_BUYER_CONTACT',
      `${base}.party.contact.electronicMail`,
      'the buyer has no e-mail address',
    );
  if (!firstName || !lastName)
    problem(
      'MISSING_BUYER_CONTACT',
      `${base}.party.person`,
      'the buyer contact has no first and family name',
    );
  if (!company || !address || !email || !firstName || !lastName) return undefined;
  return {
    company,
    contact: { firstName, lastName, email, ...(phone ? { phone } : {}) },
    address,
  };
}

function orderLines(
  value: unknown,
  currency: string | undefined,
  termMonths: number | undefined,
  problem: Report,
): OrderRequest['lines'] {
  if (!Array.isArray(value) || value.length === 0) {
    problem('MALFORMED_ORDER', 'documentLines', 'must be a non-empty array of order lines');
    return [];
  }
  const lines: OrderRequest['lines'] = [];
  value.forEach((line, i) => {
    const at = `documentLines.${i}`;
    if (!isObj(line)) {
      problem('MALFORMED_ORDER', at, 'must be an object');
      return;
    }
    const item = firstObj(line.lineItem) ?? line;
    const code = text(firstObj(firstObj(item.item)?.sellersItemIdentification)?.id);
    if (!code) {
      problem(
        'MALFORMED_ORDER',
        `${at}.lineItem.item.sellersItemIdentification.id`,
        'the line has no product code',
      );
      return;
    }
    const product = findProduct(code);
    if (!product) {
      problem(
        'UNKNOWN_PRODUCT',
        `${at}.lineItem.item.sellersItemIdentification.id`,
        `unknown product code ${quote(code)}`,
      );
      return;
    }
    const quantity = num(item.quantity);
    if (quantity === undefined || !Number.isInteger(quantity) || quantity <= 0) {
      problem('MALFORMED_ORDER', `${at}.lineItem.quantity`, 'must be a positive whole number');
      return;
    }
    const unitCode = attr(item.quantity, 'unitCode');
    const unit =
      unitCode === undefined
        ? product.units[0]
        : product.units.includes(unitCode)
          ? unitCode
          : COUNT_UNITS.has(unitCode) && product.units.length === 1
            ? product.units[0]
            : UNECE_UNITS[unitCode] && product.units.includes(UNECE_UNITS[unitCode])
              ? UNECE_UNITS[unitCode]
              : undefined;
    if (!unit) {
      problem(
        'UNSUPPORTED_UNIT',
        `${at}.lineItem.quantity.unitCode`,
        `${quote(unitCode ?? '')} is not a unit ${product.productCode} is sold in (${product.units.join(', ')})`,
      );
      return;
    }
    const priceAmount = firstObj(item.price)?.priceAmount;
    const unitPrice = num(priceAmount);
    const priceCurrency = attr(priceAmount, 'currencyID');
    if (priceAmount !== undefined && unitPrice === undefined)
      problem('MALFORMED_ORDER', `${at}.lineItem.price.priceAmount`, 'must be a number');
    if (priceCurrency && currency && priceCurrency !== currency)
      problem(
        'UNSUPPORTED_CURRENCY',
        `${at}.lineItem.price.priceAmount.currencyID`,
        `${quote(priceCurrency)} differs from the document currency ${quote(currency)}`,
      );
    lines.push({
      productCode: product.productCode,
      quantity,
      unit,
      ...(unitPrice !== undefined ? { unitPrice } : {}),
      ...(termMonths !== undefined ? { termMonths } : {}),
    });
  });
  return lines;
}
