/**
 * EIP-712 messages of protocol v2 (src/mpi/eip712.ts): the digests written out by hand from the
 * type strings, and what each signature covers (a changed field recovers another address); the
 * precomputed digests against TypedDataEncoder.hash, the Wallet fast signing path against
 * signTypedData, and recovery (libsecp256k1) against ethers'.
 */
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import {
  AbiCoder,
  concat,
  getAddress,
  hexlify,
  keccak256,
  recoverAddress,
  toUtf8Bytes,
  TypedDataEncoder,
  Wallet,
} from "ethers";
import type { TypedDataDomain } from "ethers";
import {
  dealKeyUploadDigest,
  DEAL_KEY_UPLOAD_TYPES,
  eip712DigestsReady,
  eip712Domain,
  INFERENCE_REQUEST_TYPES,
  INFERENCE_RESPONSE_TYPES,
  inferenceRequestDigest,
  inferenceResponseDigest,
  recoverSigner,
  recoverDealKeyUpload,
  recoverInferenceRequest,
  recoverInferenceResponse,
  signDealKeyUpload,
  signInferenceRequest,
  signInferenceResponse,
} from "../../src/mpi/index.js";
import type { TypedDataSigner } from "../../src/mpi/index.js";
import { buyer, CHAIN_ID, contributor, ESCROW, OTHER_ESCROW, stranger } from "./fixtures.js";

const abi = AbiCoder.defaultAbiCoder();
const id = (s: string) => keccak256(toUtf8Bytes(s));

/** The EIP-712 digest written out by hand: domain { "zklora-escrow", "2", chainId, escrow }. */
function manualDigest(structHash: string, chainId = CHAIN_ID, escrow = ESCROW): string {
  const domainSeparator = keccak256(
    abi.encode(
      ["bytes32", "bytes32", "bytes32", "uint256", "address"],
      [
        id("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
        id("zklora-escrow"),
        id("2"),
        chainId,
        getAddress(escrow),
      ],
    ),
  );
  return keccak256(concat(["0x1901", domainSeparator, structHash]));
}

describe("# mpi v2 EIP-712 messages", function () {
  // the digests below are hash-wasm's keccak (ethers' keccak256 only until it has loaded)
  before(() => eip712DigestsReady);

  const domain = eip712Domain(CHAIN_ID, ESCROW);
  const hX = id("X rows");
  const hY = id("Y rows");
  const req = { dealId: 9n, module: 3n, rows: 5n, hX, nonce: 2n ** 200n + 5n };
  const res = { dealId: 9n, module: 3n, nonce: req.nonce, seq: 17n, hX, hY };
  const key = { dealId: 9n, shapeId: id("shape"), zkeyHash: id("zkey bytes") };

  it("Should sign InferenceRequest(dealId, module, rows, hX, nonce) exactly as its type string says", async function () {
    const structHash = keccak256(
      abi.encode(
        ["bytes32", "uint256", "uint256", "uint256", "bytes32", "uint256"],
        [
          id("InferenceRequest(uint256 dealId,uint256 module,uint256 rows,bytes32 hX,uint256 nonce)"),
          req.dealId,
          req.module,
          req.rows,
          req.hX,
          req.nonce,
        ],
      ),
    );
    const s = await signInferenceRequest(buyer, domain, req);
    expect(recoverAddress(manualDigest(structHash), s)).to.equal(buyer.address);
    expect(recoverInferenceRequest(domain, req, s)).to.equal(buyer.address);
  });

  it("Should sign InferenceResponse(dealId, module, nonce, seq, hX, hY) exactly as its type string says", async function () {
    const structHash = keccak256(
      abi.encode(
        ["bytes32", "uint256", "uint256", "uint256", "uint256", "bytes32", "bytes32"],
        [
          id(
            "InferenceResponse(uint256 dealId,uint256 module,uint256 nonce,uint256 seq,bytes32 hX,bytes32 hY)",
          ),
          res.dealId,
          res.module,
          res.nonce,
          res.seq,
          res.hX,
          res.hY,
        ],
      ),
    );
    const s = await signInferenceResponse(contributor, domain, res);
    expect(recoverAddress(manualDigest(structHash), s)).to.equal(contributor.address);
    expect(recoverInferenceResponse(domain, res, s)).to.equal(contributor.address);
  });

  it("Should sign DealKeyUpload(dealId, shapeId, zkeyHash) exactly as its type string says", async function () {
    const structHash = keccak256(
      abi.encode(
        ["bytes32", "uint256", "bytes32", "bytes32"],
        [
          id("DealKeyUpload(uint256 dealId,bytes32 shapeId,bytes32 zkeyHash)"),
          key.dealId,
          key.shapeId,
          key.zkeyHash,
        ],
      ),
    );
    const s = await signDealKeyUpload(buyer, domain, key);
    expect(recoverAddress(manualDigest(structHash), s)).to.equal(buyer.address);
    expect(recoverDealKeyUpload(domain, key, s)).to.equal(buyer.address);
  });

  it("Should cover the rows of a request: a replay with other rows (or any other field or domain) recovers another signer", async function () {
    const s = await signInferenceRequest(buyer, domain, req);
    for (const changed of [
      { ...req, rows: 6n },
      { ...req, rows: 4n },
      { ...req, dealId: 10n },
      { ...req, module: 4n },
      { ...req, hX: hY },
      { ...req, nonce: 3n },
    ]) {
      const who = recoverInferenceRequest(domain, changed, s);
      expect(who).to.be.a("string");
      expect(who).to.not.equal(buyer.address);
    }
    expect(recoverInferenceRequest(eip712Domain(1n, ESCROW), req, s)).to.not.equal(buyer.address);
    expect(recoverInferenceRequest(eip712Domain(CHAIN_ID, OTHER_ESCROW), req, s)).to.not.equal(buyer.address);
    // another key signs another address
    expect(recoverInferenceRequest(domain, req, await signInferenceRequest(stranger, domain, req))).to.equal(
      stranger.address,
    );
  });

  it("Should cover the seq (and hY) of a response: a reordered answer does not verify", async function () {
    const s = await signInferenceResponse(contributor, domain, res);
    for (const changed of [
      { ...res, seq: 16n },
      { ...res, seq: 18n },
      { ...res, hY: hX },
      { ...res, hX: hY },
      { ...res, nonce: 1n },
      { ...res, module: 2n },
    ]) {
      expect(recoverInferenceResponse(domain, changed, s)).to.not.equal(contributor.address);
    }
  });

  it("Should cover the zkeyHash (and the shape and deal) of a key upload", async function () {
    const s = await signDealKeyUpload(buyer, domain, key);
    for (const changed of [
      { ...key, zkeyHash: id("another zkey") },
      { ...key, shapeId: id("another shape") },
      { ...key, dealId: 10n },
    ]) {
      expect(recoverDealKeyUpload(domain, changed, s)).to.not.equal(buyer.address);
    }
    // the three message types do not stand in for each other
    const asRequest = await signInferenceRequest(buyer, domain, req);
    expect(recoverInferenceResponse(domain, res, asRequest)).to.not.equal(buyer.address);
  });

  it("Should return null for malformed signatures (length, high s, bad v, garbage)", async function () {
    const s = await signInferenceRequest(buyer, domain, req);
    expect(recoverInferenceRequest(domain, req, "0x")).to.equal(null);
    expect(recoverInferenceRequest(domain, req, "0x" + "00".repeat(65))).to.equal(null);
    expect(recoverInferenceRequest(domain, req, s.slice(0, -2))).to.equal(null);
    expect(recoverInferenceRequest(domain, req, s + "00")).to.equal(null);
    expect(recoverInferenceRequest(domain, req, s.slice(0, -2) + "1f")).to.equal(null);
    expect(recoverInferenceRequest(domain, req, "not hex at all")).to.equal(null);
    // the malleable twin (s' = n - s, v flipped) is refused: one signature per message
    const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
    const sHi = n - BigInt("0x" + s.slice(66, 130));
    const vFlip = s.slice(130) === "1b" ? "1c" : "1b";
    const twin = s.slice(0, 66) + sHi.toString(16).padStart(64, "0") + vFlip;
    expect(recoverInferenceRequest(domain, req, twin)).to.equal(null);
    expect(recoverDealKeyUpload(domain, key, "0x1234")).to.equal(null);
    expect(recoverInferenceResponse(domain, res, "0x" + "ff".repeat(65))).to.equal(null);
  });

  it("Should hash requests, responses and key uploads exactly as TypedDataEncoder.hash (random messages and domains)", function () {
    for (let i = 0; i < 300; i++) {
      const d = randomDomain(i);
      const rq = { dealId: u256(), module: u256(), rows: u256(), hX: b32(i), nonce: u256() };
      const rs = {
        dealId: u256(),
        module: u256(),
        nonce: u256(),
        seq: u256(),
        hX: b32(i + 1),
        hY: b32(i + 2),
      };
      const k = { dealId: u256(), shapeId: b32(i + 3), zkeyHash: b32(i + 4) };
      expect(inferenceRequestDigest(d, rq)).to.equal(TypedDataEncoder.hash(d, INFERENCE_REQUEST_TYPES, rq));
      expect(inferenceResponseDigest(d, rs)).to.equal(TypedDataEncoder.hash(d, INFERENCE_RESPONSE_TYPES, rs));
      expect(dealKeyUploadDigest(d, k)).to.equal(TypedDataEncoder.hash(d, DEAL_KEY_UPLOAD_TYPES, k));
    }
    // the bounds of uint256
    for (const v of [0n, 1n, 2n ** 255n, 2n ** 256n - 1n]) {
      const rq = { ...req, dealId: v, nonce: v };
      expect(inferenceRequestDigest(domain, rq)).to.equal(
        TypedDataEncoder.hash(domain, INFERENCE_REQUEST_TYPES, rq),
      );
    }
  });

  it("Should hash values outside the canonical forms as TypedDataEncoder.hash does, and refuse what it refuses", function () {
    // numbers and hex strings for uint256, a domain with a string chainId or another field
    const loose = { ...req, dealId: 9, module: "0x03", rows: "5" } as unknown as typeof req;
    expect(inferenceRequestDigest(domain, loose)).to.equal(
      TypedDataEncoder.hash(domain, INFERENCE_REQUEST_TYPES, loose),
    );
    expect(inferenceRequestDigest(domain, loose)).to.equal(inferenceRequestDigest(domain, req));
    const d2: TypedDataDomain = { ...domain, chainId: "31337" };
    expect(inferenceRequestDigest(d2, req)).to.equal(
      TypedDataEncoder.hash(domain, INFERENCE_REQUEST_TYPES, req),
    );
    const d3: TypedDataDomain = { ...domain, salt: id("salt") };
    expect(inferenceRequestDigest(d3, req)).to.equal(TypedDataEncoder.hash(d3, INFERENCE_REQUEST_TYPES, req));
    expect(inferenceRequestDigest(d3, req)).to.not.equal(inferenceRequestDigest(domain, req));
    const lower: TypedDataDomain = { ...domain, verifyingContract: ESCROW.toLowerCase() };
    expect(inferenceRequestDigest(lower, req)).to.equal(inferenceRequestDigest(domain, req));
    for (const bad of [
      { ...req, nonce: -1n },
      { ...req, nonce: 2n ** 256n },
      { ...req, hX: hX.slice(0, -2) },
      { ...req, hX: hX + "00" },
      { ...req, hX: undefined as unknown as string },
    ]) {
      expect(() => TypedDataEncoder.hash(domain, INFERENCE_REQUEST_TYPES, bad)).to.throw();
      expect(() => inferenceRequestDigest(domain, bad)).to.throw();
    }
    // a verifyingContract with a wrong checksum
    const badSum: TypedDataDomain = {
      ...domain,
      verifyingContract: ESCROW.replace("F", "f").replace("b", "B"),
    };
    expect(() => TypedDataEncoder.hash(badSum, INFERENCE_REQUEST_TYPES, req)).to.throw();
    expect(() => inferenceRequestDigest(badSum, req)).to.throw();
  });

  it("Should sign with a Wallet the same bytes as Wallet.signTypedData, and let any other signer sign the typed data", async function () {
    for (let i = 0; i < 40; i++) {
      const w = new Wallet(hexlify(randomBytes(32)));
      const d = randomDomain(i);
      const rq = { dealId: u256(), module: u256(), rows: u256(), hX: b32(i), nonce: u256() };
      const rs = { dealId: u256(), module: u256(), nonce: u256(), seq: u256(), hX: b32(i), hY: b32(i + 1) };
      const k = { dealId: u256(), shapeId: b32(i), zkeyHash: b32(i + 1) };
      expect(await signInferenceRequest(w, d, rq)).to.equal(
        await w.signTypedData(d, INFERENCE_REQUEST_TYPES, rq),
      );
      expect(await signInferenceResponse(w, d, rs)).to.equal(
        await w.signTypedData(d, INFERENCE_RESPONSE_TYPES, rs),
      );
      expect(await signDealKeyUpload(w, d, k)).to.equal(await w.signTypedData(d, DEAL_KEY_UPLOAD_TYPES, k));
    }
    let typed = 0;
    const other: TypedDataSigner = {
      getAddress: () => Promise.resolve(buyer.address),
      signTypedData: (d, t, v) => {
        typed++;
        return buyer.signTypedData(d, t, v);
      },
    };
    expect(await signInferenceRequest(other, domain, req)).to.equal(
      await signInferenceRequest(buyer, domain, req),
    );
    expect(typed).to.equal(1);
    // a Wallet subclass with its own signTypedData keeps it
    class Custom extends Wallet {
      override signTypedData(): Promise<string> {
        return Promise.resolve("0xcustom");
      }
    }
    expect(await signInferenceRequest(new Custom(buyer.privateKey), domain, req)).to.equal("0xcustom");
  });

  it("Should recover the signer exactly as ethers does wherever the strict form accepts (random messages, other signers, tampering, twins, malformed)", async function () {
    const cases: { digest: string; signature: string }[] = [];
    for (let i = 0; i < 60; i++) {
      const m = { dealId: u256(), module: u256(), rows: u256(), hX: b32(i), nonce: u256() };
      const d = inferenceRequestDigest(domain, m);
      const s = await signInferenceRequest(buyer, domain, m);
      const sOther = await signInferenceRequest(
        i % 2 === 0 ? stranger : new Wallet(hexlify(randomBytes(32))),
        domain,
        m,
      );
      const tampered = inferenceRequestDigest(domain, { ...m, nonce: m.nonce ^ 1n });
      cases.push(
        { digest: d, signature: s },
        { digest: d, signature: sOther },
        { digest: tampered, signature: s },
        { digest: d, signature: twinOf(s) },
        { digest: d, signature: withV(s, flipV(s)) },
        { digest: d, signature: withV(s, s.slice(130) === "1b" ? "00" : "01") },
        { digest: d, signature: withV(s, "25") },
        { digest: d, signature: "0x" + hexlify(randomBytes(64)).slice(2) + (i % 2 === 0 ? "1b" : "1c") },
        { digest: d, signature: s.slice(0, 66) + "00".repeat(32) + s.slice(130) },
        { digest: d, signature: "0x" + "00".repeat(32) + s.slice(66) },
        { digest: d, signature: "0x" + N.toString(16) + s.slice(66) },
        { digest: d, signature: s.slice(0, 66) + HALF_N_PLUS_1.toString(16) + s.slice(130) },
        { digest: d, signature: s.slice(0, -2) },
        { digest: d, signature: s.toUpperCase().replace("0X", "0x") },
      );
    }
    let accepted = 0;
    let others = 0;
    for (const { digest, signature } of cases) {
      const recovered = recoverSigner(digest, signature);
      if (recovered !== null) {
        // the strict form only narrows ethers: whatever recovers here recovers the same in ethers
        expect(recoverAddress(digest, signature)).to.equal(recovered);
      }
      if (recovered === buyer.address) accepted++;
      else if (recovered !== null) others++;
    }
    expect(accepted).to.equal(120); // the buyer's own signatures, lower and upper case
    // other signers, tampered digests, flipped v and random r that is an x on the curve recover someone else
    expect(others).to.be.at.least(180);
  });

  it("Should refuse what ethers alone would accept: v 0/1/EIP-155, s in (n/2, 2^255)", async function () {
    const s = await signInferenceRequest(buyer, domain, req);
    const d = inferenceRequestDigest(domain, req);
    const v0 = withV(s, s.slice(130) === "1b" ? "00" : "01");
    expect(recoverAddress(d, v0)).to.equal(buyer.address);
    expect(recoverSigner(d, v0)).to.equal(null);
    expect(recoverInferenceRequest(domain, req, v0)).to.equal(null);
    expect(recoverSigner(d, withV(s, "25"))).to.equal(null);
    // s just above n/2 has its top bit clear: ethers' Signature.from takes it, the low-s rule does not
    const hi = s.slice(0, 66) + HALF_N_PLUS_1.toString(16) + s.slice(130);
    expect(() => recoverAddress(d, hi)).to.not.throw();
    expect(recoverSigner(d, hi)).to.equal(null);
  });
});

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const HALF_N_PLUS_1 = (N >> 1n) + 1n;

/** A random uint256 of random bit length (small values are frequent). */
function u256(): bigint {
  const bits = randomBytes(1)[0];
  return BigInt(hexlify(randomBytes(32))) >> BigInt(256 - bits);
}

/** A random bytes32, in lower, upper or mixed case. */
function b32(i: number): string {
  const h = hexlify(randomBytes(32)).slice(2);
  return (
    "0x" + (i % 3 === 0 ? h : i % 3 === 1 ? h.toUpperCase() : h.slice(0, 32) + h.slice(32).toUpperCase())
  );
}

function randomDomain(i: number): TypedDataDomain {
  const escrow = getAddress(hexlify(randomBytes(20)));
  return eip712Domain(i % 4 === 0 ? u256() : BigInt(i + 1), i % 2 === 0 ? escrow : escrow.toLowerCase());
}

function withV(signature: string, v: string): string {
  return signature.slice(0, 130) + v;
}

function flipV(signature: string): string {
  return signature.slice(130) === "1b" ? "1c" : "1b";
}

/** The malleable twin (r, n - s, v flipped): the same signer to a lax recovery. */
function twinOf(signature: string): string {
  const sHi = N - BigInt("0x" + signature.slice(66, 130));
  return signature.slice(0, 66) + sHi.toString(16).padStart(64, "0") + flipV(signature);
}
