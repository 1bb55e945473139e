/**
 * EIP-712 messages of protocol v2 (src/mpi/eip712.ts): the digests written out by hand from the
 * type strings, and what each signature covers (a changed field recovers another address).
 */
import { expect } from "chai";
import { AbiCoder, concat, getAddress, keccak256, recoverAddress, toUtf8Bytes } from "ethers";
import {
  eip712Domain,
  recoverDealKeyUpload,
  recoverInferenceRequest,
  recoverInferenceResponse,
  signDealKeyUpload,
  signInferenceRequest,
  signInferenceResponse,
} from "../../src/mpi/index.js";
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
});
