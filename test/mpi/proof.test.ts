import { expect } from "chai";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ContributorServer, ProofCheckError, proveJob, RemoteLoraClient } from "../../src/mpi/index.js";
import type { CommitResult, DealContext, ProofJob } from "../../src/mpi/index.js";
import { buildCircuit, verifyModule } from "../../src/zk/index.js";
import { buyer, contributor, dealOf, tamperingProxy, tinyCommit, TINY } from "./fixtures.js";

/**
 * Background proving on the smallest shape (t2_i8_r2_o8): one real Groth16 proof, made by the
 * server after answering, fetched by the buyer and verified off-chain.
 */
describe("# mpi background proving (tiny shape, one proof)", function () {
  let dir: string;
  let commit: CommitResult;
  let deal: DealContext;
  let server: ContributorServer;
  let url: string;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));

  before(async function () {
    dir = await mkdtemp(path.join(os.tmpdir(), "zklora-mpi-proof-"));
    await buildCircuit(TINY); // cached; the first build makes the circuit and its keys
    commit = await tinyCommit(21);
    deal = dealOf(commit, 5n);
    server = new ContributorServer({
      signer: contributor,
      rowBudget: 10,
      // the real prover, held back until the test has seen the pending state
      transcriptFile: path.join(dir, "transcript.json"),
      proving: {
        concurrency: 1,
        proofDir: path.join(dir, "proofs"),
        prove: async (job: ProofJob) => (await gate, proveJob(job)),
      },
    });
    await server.addDeal(deal, commit.secrets);
    ({ url } = await server.listen());
  });

  after(async function () {
    release();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("Should answer 202 while the proof is pending, then serve a proof that verifies off-chain", async function () {
    const client = new RemoteLoraClient({ url, deal, signer: buyer });
    const X = [
      [3n, -5n, 7n, 0n, 11n, -13n, 1024n, -2048n],
      [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n],
    ];
    const { entry } = await client.infer(0, X, 1);
    const pending = await fetch(`${url}/v1/deals/5/proofs/0/${entry.hX}`);
    expect(pending.status).to.equal(202);
    expect(((await pending.json()) as { status: string }).status).to.be.oneOf(["queued", "proving"]);
    // a call that was never answered has no proof
    expect((await fetch(`${url}/v1/deals/5/proofs/0/12345`)).status).to.equal(404);
    expect((await fetch(`${url}/v1/deals/5/proofs/1/${entry.hX}`)).status).to.equal(404);
    // the server keeps answering while the proof waits
    expect((await client.infer(1, X, 1)).entry.module).to.equal(1);
    release();

    const proof = await client.fetchProof(0, entry.hX, { timeoutMs: 300_000 });
    expect(proof.publicSignals).to.deep.equal([deal.manifest.modules[0].C_m, entry.hX, entry.rho, entry.fY]);
    const { vkey } = await buildCircuit(TINY);
    expect(await verifyModule(vkey, proof.proof as never, proof.publicSignals)).to.equal(true);
    expect(proof.solidity).to.have.keys(["a", "b", "c"]);
    await server.proofsIdle();
    expect(await readdir(path.join(dir, "proofs"))).to.have.length(2);
  });

  it("Should reject a proof whose public signals are not the transcript entry's, and a forged proof", async function () {
    const client = new RemoteLoraClient({ url, deal, signer: buyer });
    const X = [
      [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n],
      [0n, 0n, 0n, 0n, 0n, 0n, 0n, 0n],
    ];
    await client.infer(0, X, 1);
    await server.proofsIdle();
    // the other call of module 0 (already proven in the first test) under this call's hX
    const first = server.entries()[0];
    const proxySignals = await tamperingProxy(
      url,
      (b) => ({ ...b, publicSignals: [(b.publicSignals as string[])[0], first.hX, first.rho, first.fY] }),
      /\/proofs\//,
    );
    const proxyProof = await tamperingProxy(
      url,
      (b) => {
        const p = structuredClone(b.proof) as { pi_a: string[] };
        p.pi_a = [...p.pi_a];
        p.pi_a[0] = (BigInt(p.pi_a[0]) + 1n).toString();
        return { ...b, proof: p };
      },
      /\/proofs\//,
    );
    try {
      const hX = client.entries[0].hX;
      const viaSignals = new RemoteLoraClient({ url: proxySignals.url, deal, signer: buyer });
      viaSignals.entries.push(client.entries[0]);
      let err: unknown;
      try {
        await viaSignals.fetchProof(0, hX);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ProofCheckError);
      expect((err as ProofCheckError).code).to.equal("bad_public_signals");

      const viaProof = new RemoteLoraClient({ url: proxyProof.url, deal, signer: buyer });
      viaProof.entries.push(client.entries[0]);
      err = undefined;
      try {
        await viaProof.fetchProof(0, hX);
      } catch (e) {
        err = e;
      }
      expect(err).to.be.instanceOf(ProofCheckError);
      expect((err as ProofCheckError).code).to.equal("bad_proof");

      // the honest proof of the same call verifies
      expect((await client.fetchProof(0, hX)).entry).to.equal(client.entries[0]);
    } finally {
      await proxySignals.close();
      await proxyProof.close();
    }
  });
  it("Should prove, on request, a call answered before a restart (from the transcript)", async function () {
    const X = [
      [9n, 8n, 7n, 6n, 5n, 4n, 3n, 2n],
      [1n, 0n, -1n, 0n, 1n, 0n, -1n, 0n],
    ];
    // answered by a server that does not prove
    await server.close();
    const quiet = new ContributorServer({
      signer: contributor,
      rowBudget: 10,
      transcriptFile: path.join(dir, "transcript.json"),
      proving: { enabled: false },
    });
    await quiet.addDeal(deal, commit.secrets);
    const q = await quiet.listen();
    const viaQuiet = new RemoteLoraClient({ url: q.url, deal, signer: buyer });
    const { entry } = await viaQuiet.infer(1, X, 2);
    await quiet.close();
    // the restarted, proving server finds the call in its transcript and proves it when asked
    server = new ContributorServer({
      signer: contributor,
      rowBudget: 10,
      transcriptFile: path.join(dir, "transcript.json"),
      proving: { concurrency: 1 },
    });
    await server.addDeal(deal, commit.secrets);
    ({ url } = await server.listen());
    expect(server.rowsUsed(deal.dealId, 1)).to.equal(1 + 2);
    const first = await fetch(`${url}/v1/deals/5/proofs/1/${entry.hX}`);
    expect(first.status).to.equal(202);
    const client = new RemoteLoraClient({ url, deal, signer: buyer });
    client.entries.push(entry);
    const proof = await client.fetchProof(1, entry.hX, { timeoutMs: 300_000 });
    expect(proof.publicSignals).to.deep.equal([deal.manifest.modules[1].C_m, entry.hX, entry.rho, entry.fY]);
  });
});
