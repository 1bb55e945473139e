/**
 * The dApp's pure parts in Node: the deal list folded from real escrow event encodings, roles,
 * the actions and task commands per role and status, the chain clock, and agreement with the
 * tasks' formatting (src/app/format.ts) and the record parser (src/chain/deployments.ts).
 */
import { expect } from "chai";
import { ZeroAddress, getAddress, parseEther, type Result } from "ethers";
import * as tasksFormat from "../../src/app/format.js";
import { LoraEscrowV2__factory, type DealView, type EscrowEvent } from "../../src/chain/index.js";
import { parseDeployment, type DeploymentRecord } from "../../src/chain/deployments.js";
import * as webFormat from "../../web/src/format.js";
import { ChainClock, planDeal, roleOf, summarizeDeals, type PlanContext } from "../../web/src/model.js";
import { checkRecord } from "../../web/src/record.js";

const iface = LoraEscrowV2__factory.createInterface();
const C = getAddress("0x70997970c51812dc3a010c7d01b50e0d17dc79c8");
const B = getAddress("0x3c44cdddb6a900fa2b585dd299e03d12fa4293bc");
const X = getAddress("0x90f79bf6eb2c4f870365e785982e1efd7c5d3f0d");
const TOKEN = getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3");

let block = 1;
/** An event as ZkloraClient.events() returns it, through the escrow's real encoding. */
function ev(name: string, values: unknown[]): EscrowEvent {
  const { data, topics } = iface.encodeEventLog(name, values);
  const parsed = iface.parseLog({ data, topics });
  if (parsed === null) throw new Error(name);
  return {
    name: parsed.name as EscrowEvent["name"],
    args: parsed.args as Result,
    blockNumber: block++,
    transactionHash: `0x${"ab".repeat(32)}`,
  };
}

const H = `0x${"11".repeat(32)}`;
const proposed = (id: bigint, buyer: string, token: string, price: bigint, modules: number) =>
  ev("DealProposed", [id, C, buyer, token, price, H, 3600n, BigInt(modules)]);

function deal(over: Partial<DealView> = {}): DealView {
  return {
    dealId: 1n,
    contributor: C,
    buyer: B,
    token: null,
    price: parseEther("0.25"),
    baseModelHash: H,
    status: "Proposed",
    modules: 4,
    proven: 0,
    window: 3600n,
    deadline: null,
    delivery: false,
    ...over,
  };
}

const ETH = { symbol: "ETH", decimals: 18 };
const ctx = (over: Partial<PlanContext> = {}): PlanContext => ({
  account: null,
  network: "localhost",
  now: 1_000_000n,
  token: ETH,
  allowance: null,
  ...over,
});

describe("# web dApp model (deal list, roles, actions, formatting)", function () {
  it("Should fold the escrow's events into the deal list, newest first", function () {
    const events = [
      proposed(1n, B, ZeroAddress, parseEther("0.25"), 2),
      ev("ModuleCommitted", [1n, 0n, H, [1n, 2n]]),
      ev("ModuleCommitted", [1n, 1n, H, [1n, 2n]]),
      proposed(2n, ZeroAddress, TOKEN, 5n, 1),
      ev("DeliveryCommitted", [2n, [7n]]),
      ev("DealFunded", [1n, B, parseEther("0.25"), 5000n]),
      ev("ModuleProven", [1n, 0n]),
      ev("ModuleProven", [1n, 1n]),
      ev("DealSettled", [1n, C, parseEther("0.25")]),
      proposed(3n, B, ZeroAddress, 1n, 1),
      ev("DealCancelled", [3n]),
      ev("DealFunded", [2n, X, 5n, 9000n]),
      ev("DealRefunded", [2n, X, 5n]),
    ];
    const list = summarizeDeals(events);
    expect(list.map((d) => [d.dealId, d.status])).to.deep.equal([
      [3n, "Cancelled"],
      [2n, "Refunded"],
      [1n, "Settled"],
    ]);
    expect(list[2]).to.deep.include({ contributor: C, buyer: B, token: null, price: parseEther("0.25") });
    expect(list[2]).to.deep.include({ modules: 2, proven: 2, delivery: false });
    // An open deal gets its buyer at funding; the token and the delivery flag come through.
    expect(list[1]).to.deep.include({ buyer: X, token: TOKEN, delivery: true, proven: 0 });
    expect(summarizeDeals([proposed(4n, ZeroAddress, ZeroAddress, 1n, 1)])[0]).to.deep.include({
      buyer: null,
      status: "Proposed",
    });
  });

  it("Should tell the connected account's role in a deal", function () {
    expect(roleOf(deal(), null)).to.equal("disconnected");
    expect(roleOf(deal(), C.toLowerCase())).to.equal("contributor");
    expect(roleOf(deal(), B.toLowerCase())).to.equal("buyer");
    expect(roleOf(deal(), X)).to.equal("viewer");
    expect(roleOf(deal({ buyer: null }), X)).to.equal("open-buyer");
    expect(roleOf(deal({ buyer: null }), C)).to.equal("contributor");
  });

  it("Should offer cancel to the contributor and the fund command, funding from a prepared file (and approve for ERC-20) to the buyer of a proposed deal", function () {
    const c = planDeal(deal(), ctx({ account: C }));
    expect(c.actions.map((a) => a.kind)).to.deep.equal(["cancel"]);
    expect(c.steps).to.deep.equal([]);
    expect(c.fundFromFile).to.equal(false);

    const b = planDeal(deal(), ctx({ account: B }));
    expect(b.actions).to.deep.equal([]);
    expect(b.steps.map((s) => s.command)).to.deep.equal([
      `npx hardhat zklora:fund --network localhost --workspace deals/b1 --url <contributor's server URL> --from ${B}`,
      "npx hardhat zklora:fund --network localhost --workspace deals/b1 --prepare fund-request.json",
    ]);
    expect(b.steps[0].why).to.match(/the page cannot compute them/);
    expect(b.steps[1].why).to.match(/sends nothing: choose the file .* zklora:fund --upload/);
    expect(b.fundFromFile).to.equal(true);
    // Anyone but the contributor may fund an open deal from a file; a viewer or no wallet may not.
    expect(planDeal(deal({ buyer: null }), ctx({ account: X })).fundFromFile).to.equal(true);
    expect(planDeal(deal(), ctx({ account: X })).fundFromFile).to.equal(false);
    expect(planDeal(deal(), ctx()).fundFromFile).to.equal(false);
    expect(planDeal(deal(), ctx()).steps).to.have.length(1);

    const erc = deal({ token: TOKEN, price: parseEther("2") });
    const mck = { symbol: "MCK", decimals: 18 };
    const short = planDeal(erc, ctx({ account: B, token: mck, allowance: parseEther("1") }));
    expect(short.actions).to.deep.equal([
      { kind: "approve", label: "Approve 2.0 MCK for the escrow", warning: undefined },
    ]);
    const enough = planDeal(erc, ctx({ account: B, token: mck, allowance: parseEther("2") }));
    expect(enough.actions[0].warning).to.equal("the escrow may already spend 2.0 MCK");
    // Anyone but the contributor may fund an open deal; a disconnected viewer gets the command without --from.
    expect(
      planDeal(deal({ buyer: null, token: TOKEN }), ctx({ account: X, token: mck })).actions,
    ).to.have.length(1);
    expect(planDeal(deal(), ctx()).steps[0].command).to.not.include("--from");
    expect(planDeal(deal(), ctx({ account: X })).actions).to.deep.equal([]);
  });

  it("Should offer settle to the contributor of a funded plain deal, and the settle task for a delivery deal", function () {
    const funded = deal({ status: "Funded", deadline: 1_003_600n });
    const all = planDeal({ ...funded, proven: 4 }, ctx({ account: C }));
    expect(all.actions).to.deep.equal([
      { kind: "settle", label: "Settle: receive 0.25 ETH", warning: undefined },
    ]);
    expect(all.steps).to.deep.equal([]);

    const some = planDeal({ ...funded, proven: 1 }, ctx({ account: C }));
    expect(some.actions[0].warning).to.equal(
      "1 of 4 modules are proven: prove and submit the rest first (zklora:prove, zklora:submit)",
    );
    expect(some.steps.map((s) => s.title)).to.deep.equal(["Prove and submit (contributor)"]);

    const delivery = planDeal({ ...funded, proven: 4, delivery: true }, ctx({ account: C }));
    expect(delivery.actions).to.deep.equal([]);
    expect(delivery.steps.map((s) => s.command)).to.deep.equal([
      `npx hardhat zklora:settle --network localhost --workspace deals/d1 --from ${C}`,
    ]);
    expect(planDeal({ ...funded, proven: 4 }, ctx({ account: X })).actions).to.deep.equal([]);
  });

  it("Should offer the buyer a refund, warning while the window is open or when every module is proven", function () {
    const funded = deal({ status: "Funded", deadline: 1_003_600n, proven: 2 });
    const open = planDeal(funded, ctx({ account: B, now: 1_003_600n }));
    expect(open.actions.map((a) => a.kind)).to.deep.equal(["refund"]);
    expect(open.fundFromFile).to.equal(false);
    // The deal keys of a funding from the page: the upload command, while they are of use.
    expect(open.steps.map((s) => s.command)).to.deep.equal([
      `npx hardhat zklora:fund --network localhost --workspace deals/b1 --upload --url <contributor's server URL> --from ${B}`,
    ]);
    expect(planDeal({ ...funded, proven: 4 }, ctx({ account: B, now: 1_003_600n })).steps).to.deep.equal([]);
    expect(
      planDeal({ ...funded, proven: 4, delivery: true }, ctx({ account: B, now: 1_003_600n })).steps,
    ).to.have.length(1);
    expect(planDeal(funded, ctx({ account: B, now: 1_003_601n })).steps).to.deep.equal([]);
    expect(planDeal(funded, ctx({ account: X, now: 1_003_600n })).steps).to.deep.equal([]);
    expect(open.actions[0].warning).to.equal(
      `the proving window is open until ${new Date(1_003_600_000).toISOString()}`,
    );
    expect(open.summary).to.equal(
      "funded: 2 of 4 modules proven; the contributor proves the rest within the window",
    );
    expect(planDeal(funded, ctx({ now: 1_003_601n })).summary).to.equal(
      "funded: 2 of 4 modules proven; the window closed: the buyer may refund",
    );
    expect(planDeal({ ...funded, proven: 4 }, ctx()).summary).to.equal(
      "funded: 4 of 4 modules proven; the contributor settles",
    );
    const closed = planDeal(funded, ctx({ account: B, now: 1_003_601n }));
    expect(closed.actions[0]).to.deep.equal({
      kind: "refund",
      label: "Refund: get 0.25 ETH back",
      warning: undefined,
    });
    expect(
      planDeal({ ...funded, proven: 4 }, ctx({ account: B, now: 2_000_000n })).actions[0].warning,
    ).to.equal("every module is proven: the deal can only be settled");
    // A delivery deal is refundable after the window even when every module is proven.
    expect(
      planDeal({ ...funded, proven: 4, delivery: true }, ctx({ account: B, now: 2_000_000n })).actions[0]
        .warning,
    ).to.equal(undefined);
  });

  it("Should offer nothing on a settled, refunded or cancelled deal", function () {
    for (const status of ["Settled", "Refunded", "Cancelled"] as const) {
      for (const account of [C, B, X, null]) {
        const p = planDeal(deal({ status, deadline: 5n }), ctx({ account }));
        expect(p.actions, status).to.deep.equal([]);
        expect(p.steps, status).to.deep.equal([]);
      }
    }
    expect(planDeal(deal({ status: "Settled" }), ctx()).summary).to.equal(
      "settled: the contributor was paid 0.25 ETH",
    );
  });

  it("Should keep the chain's clock: a node ahead of this computer (evm_increaseTime) wins, and it advances", function () {
    const wall = 1_700_000_000_000;
    expect(new ChainClock(1_700_003_700, wall).now(wall + 2500)).to.equal(1_700_003_702n);
    expect(new ChainClock(1_600_000_000, wall).now(wall + 1000)).to.equal(1_700_000_001n);
  });

  it("Should format amounts and durations as the tasks do", function () {
    for (const [v, t] of [
      [parseEther("0.25"), ETH],
      [2_000_000n, { symbol: "USDC", decimals: 6 }],
      [0n, ETH],
      [1n, ETH],
    ] as const) {
      expect(webFormat.formatAmount(v, t)).to.equal(tasksFormat.formatAmount(v, t));
    }
    for (const s of [0, 1, 59, 60, 61, 3599, 3600, 3661, 86399, 86400, 90061, -3700, 7_776_000]) {
      expect(webFormat.formatDuration(s), String(s)).to.equal(tasksFormat.formatDuration(s));
      expect(webFormat.formatDuration(BigInt(s))).to.equal(tasksFormat.formatDuration(BigInt(s)));
    }
    expect(webFormat.countdown(1_003_600n, 1_000_000n)).to.equal(
      `1 h 0 min left (until ${new Date(1_003_600_000).toISOString()})`,
    );
    expect(webFormat.countdown(1_000_000n, 1_003_700n)).to.match(/^closed 1 h 1 min ago \(at /);
    expect(webFormat.shortHex(`0x${"ab".repeat(32)}`)).to.equal("0xabababab…abab");
    expect(webFormat.shortHex("0x1234")).to.equal("0x1234");
  });

  it("Should accept the records parseDeployment accepts and refuse broken ones with its messages", function () {
    const contract = (address: string, name: string) => ({
      address,
      contractName: name,
      abi: `abi/${name}.json`,
      transactionHash: `0x${"cd".repeat(32)}`,
      blockNumber: 3,
    });
    const good: DeploymentRecord = {
      format: "zklora-deployment/2",
      network: "localhost",
      chainId: 31337,
      deployer: C,
      registryOwner: C,
      blockNumber: 3,
      deployedAt: "2025-01-01T00:00:00.000Z",
      contracts: {
        ShapeRegistryV2: contract(TOKEN, "ShapeRegistryV2"),
        LoraEscrowV2: contract(X, "LoraEscrowV2"),
      },
      shapes: [],
    };
    expect(checkRecord(good)).to.deep.equal(parseDeployment(good));
    const broken: unknown[] = [
      null,
      { ...good, format: "zklora-deployment/1" },
      { ...good, network: 5 },
      { ...good, chainId: "31337" },
      { ...good, contracts: undefined },
      {
        ...good,
        contracts: { ...good.contracts, LoraEscrowV2: { ...good.contracts.LoraEscrowV2, address: "0x12" } },
      },
      { ...good, shapes: {} },
    ];
    for (const r of broken) {
      let expected = "";
      try {
        parseDeployment(r);
      } catch (err) {
        expected = (err as Error).message;
      }
      expect(expected, JSON.stringify(r)).to.not.equal("");
      expect(() => checkRecord(r), JSON.stringify(r)).to.throw(expected);
    }
  });
});
