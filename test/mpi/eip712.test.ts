import { expect } from "chai";
import { AbiCoder, concat, getAddress, keccak256, toUtf8Bytes } from "ethers";
import {
  eip712Domain,
  inferenceRequestDigest,
  inferenceResponseDigest,
  recoverInferenceRequest,
  recoverInferenceResponse,
  signInferenceRequest,
  signInferenceResponse,
} from "../../src/mpi/index.js";
import { buyer, CHAIN_ID, contributor, ESCROW, stranger } from "./fixtures.js";

const abi = AbiCoder.defaultAbiCoder();
const id = (s: string) => keccak256(toUtf8Bytes(s));

/** The EIP-712 digest written out by hand from ARCHITECTURE.md's type strings. */
function manualDigest(structHash: string, chainId = CHAIN_ID, escrow = ESCROW): string {
  const domainSeparator = keccak256(
    abi.encode(
      ["bytes32", "bytes32", "bytes32", "uint256", "address"],
      [
        id("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
        id("zklora-escrow"),
        id("1"),
        chainId,
        getAddress(escrow),
      ],
    ),
  );
  return keccak256(concat(["0x1901", domainSeparator, structHash]));
}

describe("# mpi EIP-712 messages", function () {
  const domain = eip712Domain(CHAIN_ID, ESCROW);
  const req = { dealId: 9n, module: 3n, hX: 123456789n, nonce: 2n ** 200n + 5n };
  const hY = keccak256(toUtf8Bytes("Y"));
  const res = { dealId: 9n, module: 3n, hX: 123456789n, hY, fY: 987654321n };

  it("Should hash InferenceRequest exactly as ARCHITECTURE.md's type string says", function () {
    const structHash = keccak256(
      abi.encode(
        ["bytes32", "uint256", "uint256", "uint256", "uint256"],
        [
          id("InferenceRequest(uint256 dealId,uint256 module,uint256 hX,uint256 nonce)"),
          req.dealId,
          req.module,
          req.hX,
          req.nonce,
        ],
      ),
    );
    expect(inferenceRequestDigest(domain, req)).to.equal(manualDigest(structHash));
  });

  it("Should hash InferenceResponse exactly as ARCHITECTURE.md's type string says", function () {
    const structHash = keccak256(
      abi.encode(
        ["bytes32", "uint256", "uint256", "uint256", "bytes32", "uint256"],
        [
          id("InferenceResponse(uint256 dealId,uint256 module,uint256 hX,bytes32 hY,uint256 fY)"),
          res.dealId,
          res.module,
          res.hX,
          res.hY,
          res.fY,
        ],
      ),
    );
    expect(inferenceResponseDigest(domain, res)).to.equal(manualDigest(structHash));
  });

  it("Should recover the signer, and not for any changed field, domain or garbage", async function () {
    const s = await signInferenceRequest(buyer, domain, req);
    expect(recoverInferenceRequest(domain, req, s)).to.equal(buyer.address);
    for (const changed of [
      { ...req, dealId: 10n },
      { ...req, module: 4n },
      { ...req, hX: req.hX + 1n },
      { ...req, nonce: 3n },
    ]) {
      expect(recoverInferenceRequest(domain, changed, s)).to.not.equal(buyer.address);
    }
    expect(recoverInferenceRequest(eip712Domain(1n, ESCROW), req, s)).to.not.equal(buyer.address);
    expect(recoverInferenceRequest(eip712Domain(CHAIN_ID, stranger.address), req, s)).to.not.equal(
      buyer.address,
    );
    expect(recoverInferenceRequest(domain, req, "0x")).to.equal(null);
    expect(recoverInferenceRequest(domain, req, "0x" + "00".repeat(65))).to.equal(null);
    expect(recoverInferenceRequest(domain, req, s.slice(0, -2))).to.equal(null);

    const r = await signInferenceResponse(contributor, domain, res);
    expect(recoverInferenceResponse(domain, res, r)).to.equal(contributor.address);
    expect(recoverInferenceResponse(domain, { ...res, fY: 1n }, r)).to.not.equal(contributor.address);
    expect(recoverInferenceResponse(domain, { ...res, hY: keccak256("0x01") }, r)).to.not.equal(
      contributor.address,
    );
  });
});
