/**
 * The fund request: what `zklora:fund --prepare FILE` writes for a page (or any dApp) to fund a deal
 * from the buyer's wallet, i.e. exactly the arguments of `ZkloraClient.fund(dealId, keys, entries,
 * { wrap })` plus the deal it was made for (chain, escrow, id, price, token), so the page can check
 * it against the deal it shows before sending anything.
 *
 *   {
 *     "format": "zklora-fund-request/1",
 *     "chainId": "31337", "escrow": "0x…", "dealId": "1",
 *     "price": "250000000000000000",          // base units (wei for ETH)
 *     "token": null,                           // or the ERC-20 address
 *     "keys": [{ "shapeId": "0x…32 bytes", "delta": ["…", "…", "…", "…"] }],   // δ' per shape (G2, EIP-197 order)
 *     "entries": [{ "hX": "0x…", "hY": "0x…", "dX": ["…", "…"], "fY": "…" }],    // one per module
 *     "wrap": { "pk": ["…", "…"], "delta": ["…", "…", "…", "…"], "pkRoot": ["…", "…"] }  // delivery deals only
 *   }
 *
 * Numbers are decimal strings; shape ids and digests bytes32 hex. The parser is strict (no unknown
 * field, every number canonical and below 2^256) and names the field it refuses in one line. Pure
 * (ethers only): bundles for a browser.
 */
import { getAddress, isAddress } from "ethers";
import type { DealKeyInput, DealView, EntryInput, G1, G2, WrapFundInput, ZkloraAddresses } from "./client.js";
import { ChainError } from "./errors.js";

/** Format tag of a fund request file. */
export const FUND_REQUEST_FORMAT = "zklora-fund-request/1";

/** A fund request, parsed: the deal it is for and `ZkloraClient.fund`'s arguments. */
export interface FundRequest {
  chainId: bigint;
  /** Checksummed escrow address. */
  escrow: string;
  dealId: bigint;
  /** In base units (wei for ETH). */
  price: bigint;
  /** Checksummed ERC-20 address, null for ETH. */
  token: string | null;
  /** δ' per shape, in the deal's shape order. */
  keys: DealKeyInput[];
  /** One entry per module, in module order. */
  entries: EntryInput[];
  /** A delivery deal's key-wrap key (`fundDelivery`); absent for a plain deal. */
  wrap?: WrapFundInput;
}

type S2 = [string, string];
type S4 = [string, string, string, string];

/** A fund request file (JSON): numbers as decimal strings. */
export interface FundRequestJson {
  format: typeof FUND_REQUEST_FORMAT;
  chainId: string;
  escrow: string;
  dealId: string;
  price: string;
  token: string | null;
  keys: { shapeId: string; delta: S4 }[];
  entries: { hX: string; hY: string; dX: S2; fY: string }[];
  wrap?: { pk: S2; delta: S4; pkRoot: S2 };
}

/** A fund request that does not parse, or does not fit the deal it is used for. */
export class FundRequestError extends ChainError {
  override name = "FundRequestError";
}

const dec = (v: bigint) => v.toString();

/** The file form of a fund request. */
export function fundRequestToJson(r: FundRequest): FundRequestJson {
  const out: FundRequestJson = {
    format: FUND_REQUEST_FORMAT,
    chainId: dec(r.chainId),
    escrow: getAddress(r.escrow),
    dealId: dec(r.dealId),
    price: dec(r.price),
    token: r.token === null ? null : getAddress(r.token),
    keys: r.keys.map((k) => ({ shapeId: k.shapeId, delta: k.delta.map(dec) as S4 })),
    entries: r.entries.map((e) => ({ hX: e.hX, hY: e.hY, dX: e.dX.map(dec) as S2, fY: dec(e.fY) })),
  };
  if (r.wrap !== undefined) {
    out.wrap = {
      pk: r.wrap.pk.map(dec) as S2,
      delta: r.wrap.delta.map(dec) as S4,
      pkRoot: r.wrap.pkRoot.map(dec) as S2,
    };
  }
  return out;
}

const MAX_UINT256 = (1n << 256n) - 1n;

/** Refuses `field`: what it must be and (shortened) what it is. */
function fail(field: string, what: string, value: unknown): never {
  let got = value === undefined ? "nothing" : JSON.stringify(value);
  if (got.length > 48) got = `${got.slice(0, 45)}...`;
  throw new FundRequestError(`fund request: ${field} must be ${what}, got ${got}`);
}

function object(value: unknown, field: string, allowed: readonly string[], optional: readonly string[] = []) {
  if (value === null || typeof value !== "object" || Array.isArray(value))
    fail(field === "" ? "the file" : field, "a JSON object", value);
  const o = value as Record<string, unknown>;
  const at = (k: string) => (field === "" ? k : `${field}.${k}`);
  for (const k of Object.keys(o))
    if (!allowed.includes(k))
      throw new FundRequestError(`fund request: ${at(k)} is not a field of ${FUND_REQUEST_FORMAT}`);
  for (const k of allowed)
    if (!(k in o) && !optional.includes(k)) throw new FundRequestError(`fund request: ${at(k)} is missing`);
  return o;
}

function uint(value: unknown, field: string): bigint {
  if (typeof value !== "string" || !/^(0|[1-9][0-9]*)$/.test(value))
    fail(field, "a decimal string (digits, no sign or leading zero)", value);
  const v = BigInt(value);
  if (v > MAX_UINT256) fail(field, "below 2^256", value);
  return v;
}

function tuple(value: unknown, field: string, n: 2 | 4): bigint[] {
  if (!Array.isArray(value) || value.length !== n) fail(field, `an array of ${n} decimal strings`, value);
  return value.map((x, i) => uint(x, `${field}[${i}]`));
}

function bytes32(value: unknown, field: string): string {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(value))
    fail(field, "a bytes32 hex string (0x and 64 hex digits)", value);
  return value.toLowerCase();
}

function address(value: unknown, field: string): string {
  if (typeof value !== "string" || !isAddress(value)) fail(field, "an address (0x and 40 hex digits)", value);
  return getAddress(value);
}

function list(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value) || value.length === 0) fail(field, "a non-empty array", value);
  return value;
}

/**
 * Parses a fund request (the parsed JSON of a `zklora:fund --prepare` file). Throws a
 * FundRequestError naming the field on anything malformed.
 */
export function parseFundRequest(value: unknown): FundRequest {
  const o = object(
    value,
    "",
    ["format", "chainId", "escrow", "dealId", "price", "token", "keys", "entries", "wrap"],
    ["wrap"],
  );
  if (o.format !== FUND_REQUEST_FORMAT)
    fail("format", `"${FUND_REQUEST_FORMAT}" (a file written by zklora:fund --prepare)`, o.format);
  const chainId = uint(o.chainId, "chainId");
  const escrow = address(o.escrow, "escrow");
  const dealId = uint(o.dealId, "dealId");
  if (dealId === 0n) fail("dealId", "a deal id (1 or more)", o.dealId);
  const price = uint(o.price, "price");
  if (price === 0n) fail("price", "positive", o.price);
  const token = o.token === null ? null : address(o.token, "token");
  const seen = new Set<string>();
  const keys = list(o.keys, "keys").map((k, i): DealKeyInput => {
    const f = `keys[${i}]`;
    const x = object(k, f, ["shapeId", "delta"]);
    const shapeId = bytes32(x.shapeId, `${f}.shapeId`);
    if (seen.has(shapeId)) throw new FundRequestError(`fund request: ${f}.shapeId ${shapeId} is repeated`);
    seen.add(shapeId);
    return { shapeId, delta: tuple(x.delta, `${f}.delta`, 4) as unknown as G2 };
  });
  const entries = list(o.entries, "entries").map((e, i): EntryInput => {
    const f = `entries[${i}]`;
    const x = object(e, f, ["hX", "hY", "dX", "fY"]);
    return {
      hX: bytes32(x.hX, `${f}.hX`),
      hY: bytes32(x.hY, `${f}.hY`),
      dX: tuple(x.dX, `${f}.dX`, 2) as unknown as G1,
      fY: uint(x.fY, `${f}.fY`),
    };
  });
  const out: FundRequest = { chainId, escrow, dealId, price, token, keys, entries };
  if (o.wrap !== undefined) {
    const w = object(o.wrap, "wrap", ["pk", "delta", "pkRoot"]);
    out.wrap = {
      pk: tuple(w.pk, "wrap.pk", 2) as unknown as G1,
      delta: tuple(w.delta, "wrap.delta", 4) as unknown as G2,
      pkRoot: tuple(w.pkRoot, "wrap.pkRoot", 2) as unknown as G1,
    };
  }
  return out;
}

/** Parses the text of a fund request file; not JSON is a FundRequestError too. */
export function parseFundRequestText(text: string): FundRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new FundRequestError(
      `fund request: not valid JSON (${(err as Error).message}): choose the file zklora:fund --prepare wrote`,
    );
  }
  return parseFundRequest(value);
}

/**
 * Checks a fund request against the deal it is about to fund (as the chain shows it) and the
 * deployment: chain, escrow, deal id, price, token, one entry per module, a key-wrap key exactly
 * for a delivery deal, and a deal still Proposed. Throws a FundRequestError naming the field.
 */
export function checkFundRequest(
  r: FundRequest,
  deal: DealView,
  addresses: Pick<ZkloraAddresses, "chainId" | "escrow">,
): void {
  const again = "prepare it again with zklora:fund --prepare for this deal";
  const refuse = (field: string, made: unknown, here: unknown, of: string) => {
    throw new FundRequestError(
      `fund request: ${field} is ${String(made)}, but ${of} is ${String(here)}: ${again}`,
    );
  };
  if (r.chainId !== BigInt(addresses.chainId))
    refuse("chainId", r.chainId, addresses.chainId, "the deployment's");
  if (getAddress(r.escrow) !== getAddress(addresses.escrow))
    refuse("escrow", r.escrow, getAddress(addresses.escrow), "the deployment's");
  if (r.dealId !== deal.dealId) refuse("dealId", r.dealId, deal.dealId, "this deal's");
  if (r.price !== deal.price) refuse("price", r.price, deal.price, `deal ${deal.dealId}'s`);
  const token = (t: string | null) => (t === null ? "ETH (null)" : getAddress(t));
  if (token(r.token) !== token(deal.token))
    refuse("token", token(r.token), token(deal.token), `deal ${deal.dealId}'s`);
  if (r.entries.length !== deal.modules)
    refuse(
      "entries",
      `${r.entries.length} long`,
      deal.modules,
      `the number of modules of deal ${deal.dealId}`,
    );
  if ((r.wrap !== undefined) !== deal.delivery)
    throw new FundRequestError(
      deal.delivery
        ? `fund request: wrap is missing, but deal ${deal.dealId} is a delivery deal: ${again}`
        : `fund request: wrap is set, but deal ${deal.dealId} is a plain deal: ${again}`,
    );
  if (deal.status !== "Proposed")
    throw new FundRequestError(`deal ${deal.dealId} is ${deal.status}, not Proposed: it cannot be funded`);
}
