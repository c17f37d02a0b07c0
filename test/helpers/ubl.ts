import { readFileSync } from 'node:fs';
import { referencePath } from './reference.ts';

/**
 * UBL 2.1 XML → the JSON SaaShop sends (the correspondence the README's mapping table documents):
 * element names in lowerCamelCase without namespace prefixes (`cbc:ID` → `id`,
 * `cac:BuyerCustomerParty` → `buyerCustomerParty`), a leaf with attributes becomes
 * `{value, <attribute>…}`, repeated elements become arrays, and at the document root `ID` is
 * `orderId` and the `OrderLine`s are `documentLines`. A small reader for the well-formed reference
 * examples, not a general XML parser.
 */
interface XmlNode {
  name: string;
  attributes: Record<string, string>;
  children: XmlNode[];
  text: string;
}

const TOKEN =
  /<\?[\s\S]*?\?>|<!--[\s\S]*?-->|<\/([\w:.-]+)\s*>|<([\w:.-]+)((?:\s+[\w:.-]+\s*=\s*"[^"]*")*)\s*(\/?)>|([^<]+)/g;

const decodeEntities = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

export function parseXml(xml: string): XmlNode {
  const root: XmlNode = { name: '#root', attributes: {}, children: [], text: '' };
  const stack: XmlNode[] = [root];
  for (const m of xml.matchAll(TOKEN)) {
    const [, close, open, attrs, selfClosing, text] = m;
    const top = stack.at(-1)!;
    if (open) {
      const attributes: Record<string, string> = {};
      for (const a of (attrs ?? '').matchAll(/([\w:.-]+)\s*=\s*"([^"]*)"/g))
        attributes[a[1]!] = decodeEntities(a[2]!);
      const node: XmlNode = { name: open, attributes, children: [], text: '' };
      top.children.push(node);
      if (!selfClosing) stack.push(node);
    } else if (close) {
      if (top.name !== close) throw new Error(`XML: </${close}> closes <${top.name}>`);
      stack.pop();
    } else if (text) {
      top.text += decodeEntities(text);
    }
  }
  if (stack.length !== 1 || root.children.length !== 1) throw new Error('XML: not one well-formed document');
  return root.children[0]!;
}

/** `UBLVersionID` → `ublVersionID`, `ID` → `id`, `BuyerCustomerParty` → `buyerCustomerParty`. */
export function lowerCamel(name: string): string {
  const local = name.includes(':') ? name.slice(name.indexOf(':') + 1) : name;
  const run = /^[A-Z]+/.exec(local)?.[0] ?? '';
  if (run.length === local.length) return local.toLowerCase();
  if (run.length > 1) return run.slice(0, -1).toLowerCase() + local.slice(run.length - 1);
  return local.charAt(0).toLowerCase() + local.slice(1);
}

function toJson(node: XmlNode): unknown {
  const attributes = Object.fromEntries(
    Object.entries(node.attributes).filter(([k]) => !k.startsWith('xmlns')),
  );
  if (node.children.length === 0) {
    const value = node.text.trim();
    return Object.keys(attributes).length ? { value, ...attributes } : value;
  }
  const groups = new Map<string, unknown[]>();
  for (const child of node.children) {
    const k = lowerCamel(child.name);
    groups.set(k, [...(groups.get(k) ?? []), toJson(child)]);
  }
  const out: Record<string, unknown> = {};
  for (const [k, values] of groups) out[k] = values.length === 1 ? values[0] : values;
  return out;
}

/** A UBL document as SaaShop JSON. */
export function ublToSaashopJson(xml: string): Record<string, unknown> {
  const doc = toJson(parseXml(xml)) as Record<string, unknown>;
  const { id, orderLine, ...rest } = doc;
  return {
    ...(id !== undefined ? { orderId: id } : {}),
    ...rest,
    ...(orderLine !== undefined ? { documentLines: Array.isArray(orderLine) ? orderLine : [orderLine] } : {}),
  };
}

export const UBL_EXAMPLES = [
  'UBL-Order-2.1-Example.xml',
  'UBL-OrderChange-2.1-Example.xml',
  'UBL-OrderCancellation-2.1-Example.xml',
  'UBL-OrderResponse-2.1-Example.xml',
  'UBL-OrderResponseSimple-2.1-Example.xml',
] as const;

export function ublExample(name: (typeof UBL_EXAMPLES)[number]): Record<string, unknown> {
  return ublToSaashopJson(readFileSync(referencePath('data/ubl', name), 'utf8'));
}
