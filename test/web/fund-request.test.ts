/**
 * The fund request (src/chain/fund-request.ts), shared by `zklora:fund --prepare` (which writes it)
 * and the web page (which funds from it): a round trip through its JSON, the strict parser's
 * one-line errors naming the field, and the check against the deal a page shows.
 */
import { expect } from "chai";
import { getAddress } from "ethers";
import {
  ChainError,
  FUND_REQUEST_FORMAT,
  FundRequestError,
  checkFundRequest,
  fundRequestToJson,
  parseFundRequest,
  parseFundRequestText,
  type DealView,
  type FundRequest,
  type FundRequestJson,
} from "../../src/chain/index.js";

const ESCROW = getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3");
const TOKEN = getAddress("0xe7f1725e7734ce288f8367e1bb143e90bb3f0512");
const C = getAddress("0x70997970c51812dc3a010c7d01b50e0d17dc79c8");
const B = getAddress("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc");
const SHAPE = `0x${"ab".repeat(32)}`;
const SHAPE2 = `0x${"cd".repeat(32)}`;
const P = 21888242871839275222246405745257275088696311157297355495392315620863432064647n;

const request = (over: Partial<FundRequest> = {}): FundRequest => ({
  chainId: 31337n,
  escrow: ESCROW,
  dealId: 3n,
  price: 250_000_000_000_000_000n,
  token: null,
  keys: [
    { shapeId: SHAPE, delta: [1n, 2n, 3n, P] },
    { shapeId: SHAPE2, delta: [5n, 6n, 7n, 8n] },
  ],
  entries: [
    { hX: `0x${"01".repeat(32)}`, hY: `0x${"02".repeat(32)}`, dX: [9n, 10n], fY: 11n },
    { hX: `0x${"03".repeat(32)}`, hY: `0x${"04".repeat(32)}`, dX: [12n, 13n], fY: 0n },
  ],
  ...over,
});
const WRAP = { pk: [21n, 22n], delta: [23n, 24n, 25n, 26n], pkRoot: [27n, 28n] } as const;

const deal = (over: Partial<DealView> = {}): DealView => ({
  dealId: 3n,
  contributor: C,
  buyer: B,
  token: null,
  price: 250_000_000_000_000_000n,
  baseModelHash: `0x${"11".repeat(32)}`,
  status: "Proposed",
  modules: 2,
  proven: 0,
  window: 3600n,
  deadline: null,
  delivery: false,
  ...over,
});

/** The file form of `request()` with `edit` applied to its JSON. */
function file(edit: (j: Record<string, unknown> & FundRequestJson) => void, r = request()): unknown {
  const j = JSON.parse(JSON.stringify(fundRequestToJson(r))) as Record<string, unknown> & FundRequestJson;
  edit(j);
  return j;
}

/** The one-line message parseFundRequest refuses `value` with. */
function refusal(value: unknown): string {
  try {
    parseFundRequest(value);
  } catch (err) {
    expect(err).to.be.instanceOf(FundRequestError);
    expect(err).to.be.instanceOf(ChainError);
    const m = (err as Error).message;
    expect(m, "one line").to.not.include("\n");
    return m;
  }
  throw new Error(`accepted ${JSON.stringify(value)}`);
}

describe("# fund request (zklora:fund --prepare -> the web page)", function () {
  it("Should write decimal strings and parse its own file back to the same arguments, with and without a key-wrap key", function () {
    const j = fundRequestToJson(request());
    expect(j).to.deep.equal({
      format: FUND_REQUEST_FORMAT,
      chainId: "31337",
      escrow: ESCROW,
      dealId: "3",
      price: "250000000000000000",
      token: null,
      keys: [
        { shapeId: SHAPE, delta: ["1", "2", "3", P.toString()] },
        { shapeId: SHAPE2, delta: ["5", "6", "7", "8"] },
      ],
      entries: [
        { hX: `0x${"01".repeat(32)}`, hY: `0x${"02".repeat(32)}`, dX: ["9", "10"], fY: "11" },
        { hX: `0x${"03".repeat(32)}`, hY: `0x${"04".repeat(32)}`, dX: ["12", "13"], fY: "0" },
      ],
    });
    expect(parseFundRequestText(JSON.stringify(j, null, 2))).to.deep.equal(request());
    const withWrap = request({ token: TOKEN, wrap: WRAP });
    const jw = fundRequestToJson(withWrap);
    expect(jw.wrap).to.deep.equal({
      pk: ["21", "22"],
      delta: ["23", "24", "25", "26"],
      pkRoot: ["27", "28"],
    });
    expect(jw.token).to.equal(TOKEN);
    expect(parseFundRequestText(JSON.stringify(jw))).to.deep.equal(withWrap);
    // Addresses in any case come back checksummed.
    expect(parseFundRequest(file((x) => (x.escrow = ESCROW.toLowerCase()))).escrow).to.equal(ESCROW);
  });

  it("Should refuse a malformed file with one line naming the field", function () {
    expect(() => parseFundRequestText("{")).to.throw(FundRequestError, /^fund request: not valid JSON \(/);
    const cases: Array<[unknown, RegExp]> = [
      [[], /^fund request: the file must be a JSON object, got \[\]$/],
      [null, /^fund request: the file must be a JSON object, got null$/],
      [
        file((x) => (x.format = "zklora-fund-request/0" as never)),
        /^fund request: format must be "zklora-fund-request\/1"/,
      ],
      [file((x) => delete (x as Partial<FundRequestJson>).price), /^fund request: price is missing$/],
      [file((x) => (x.extra = 1)), /^fund request: extra is not a field of zklora-fund-request\/1$/],
      [
        file((x) => ((x as Record<string, unknown>).chainId = 31337)),
        /^fund request: chainId must be a decimal string .*, got 31337$/,
      ],
      [file((x) => (x.chainId = "0x7a69")), /^fund request: chainId must be a decimal string/],
      [file((x) => (x.dealId = "0")), /^fund request: dealId must be a deal id \(1 or more\), got "0"$/],
      [file((x) => (x.price = "-1")), /^fund request: price must be a decimal string/],
      [file((x) => (x.price = "0")), /^fund request: price must be positive, got "0"$/],
      [
        file((x) => (x.escrow = "0x1234")),
        /^fund request: escrow must be an address \(0x and 40 hex digits\), got "0x1234"$/,
      ],
      [file((x) => (x.token = "ETH")), /^fund request: token must be an address/],
      [file((x) => (x.keys = [])), /^fund request: keys must be a non-empty array, got \[\]$/],
      [
        file((x) => (x.keys[0].shapeId = "0xab")),
        /^fund request: keys\[0\]\.shapeId must be a bytes32 hex string/,
      ],
      [file((x) => (x.keys[1].shapeId = SHAPE)), /^fund request: keys\[1\]\.shapeId 0xabab.* is repeated$/],
      [
        file((x) => x.keys[1].delta.pop()),
        /^fund request: keys\[1\]\.delta must be an array of 4 decimal strings/,
      ],
      [
        file((x) => (x.keys[0].delta[3] = (1n << 256n).toString())),
        /^fund request: keys\[0\]\.delta\[3\] must be below 2\^256, got "11579208923731619542357098500868790785326998\.\.\.$/,
      ],
      [
        file((x) => (x.entries = "none" as never)),
        /^fund request: entries must be a non-empty array, got "none"$/,
      ],
      [
        file((x) => (x.entries[1].dX[0] = "1.5")),
        /^fund request: entries\[1\]\.dX\[0\] must be a decimal string/,
      ],
      [
        file((x) => (x.entries[0].fY = "011")),
        /^fund request: entries\[0\]\.fY must be a decimal string \(digits, no sign or leading zero\), got "011"$/,
      ],
      [
        file((x) => (x.entries[1].hY = 7 as never)),
        /^fund request: entries\[1\]\.hY must be a bytes32 hex string .*, got 7$/,
      ],
      [
        file((x) => ((x.entries[0] as Record<string, unknown>).rho = "1")),
        /^fund request: entries\[0\]\.rho is not a field/,
      ],
      [
        file((x) => delete (x.entries[1] as Partial<FundRequestJson["entries"][0]>).fY),
        /^fund request: entries\[1\]\.fY is missing$/,
      ],
      [file((x) => (x.wrap = null as never)), /^fund request: wrap must be a JSON object, got null$/],
      [
        file(
          (x) => delete (x.wrap as Partial<NonNullable<FundRequestJson["wrap"]>>).pkRoot,
          request({ wrap: WRAP }),
        ),
        /^fund request: wrap\.pkRoot is missing$/,
      ],
      [
        file((x) => (x.wrap!.pk = ["1"] as never), request({ wrap: WRAP })),
        /^fund request: wrap\.pk must be an array of 2 decimal strings, got \["1"\]$/,
      ],
    ];
    for (const [value, line] of cases) expect(refusal(value)).to.match(line);
  });

  it("Should check the request against the deal shown and the deployment, naming the field that differs", function () {
    const at = { chainId: 31337, escrow: ESCROW };
    expect(() => checkFundRequest(request(), deal(), at)).to.not.throw();
    expect(() =>
      checkFundRequest(request({ token: TOKEN, wrap: WRAP }), deal({ token: TOKEN, delivery: true }), at),
    ).to.not.throw();
    const refused = (r: FundRequest, d: DealView, a = at) => {
      try {
        checkFundRequest(r, d, a);
      } catch (err) {
        expect(err).to.be.instanceOf(FundRequestError);
        return (err as Error).message;
      }
      throw new Error("accepted");
    };
    const again = ": prepare it again with zklora:fund --prepare for this deal";
    expect(refused(request(), deal(), { chainId: 1, escrow: ESCROW })).to.equal(
      `fund request: chainId is 31337, but the deployment's is 1${again}`,
    );
    expect(refused(request(), deal(), { chainId: 31337, escrow: TOKEN })).to.equal(
      `fund request: escrow is ${ESCROW}, but the deployment's is ${TOKEN}${again}`,
    );
    expect(refused(request(), deal({ dealId: 4n }))).to.equal(
      `fund request: dealId is 3, but this deal's is 4${again}`,
    );
    expect(refused(request(), deal({ price: 1n }))).to.equal(
      `fund request: price is 250000000000000000, but deal 3's is 1${again}`,
    );
    expect(refused(request(), deal({ token: TOKEN }))).to.equal(
      `fund request: token is ETH (null), but deal 3's is ${TOKEN}${again}`,
    );
    expect(refused(request(), deal({ modules: 3 }))).to.equal(
      `fund request: entries is 2 long, but the number of modules of deal 3 is 3${again}`,
    );
    expect(refused(request(), deal({ delivery: true }))).to.match(
      /^fund request: wrap is missing, but deal 3 is a delivery deal/,
    );
    expect(refused(request({ wrap: WRAP }), deal())).to.match(
      /^fund request: wrap is set, but deal 3 is a plain deal/,
    );
    expect(refused(request(), deal({ status: "Funded" }))).to.equal(
      "deal 3 is Funded, not Proposed: it cannot be funded",
    );
  });
});
