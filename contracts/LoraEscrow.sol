// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {IGroth16Verifier3} from "./interfaces/IGroth16Verifier3.sol";
import {IGroth16Verifier4} from "./interfaces/IGroth16Verifier4.sol";
import {IGroth16BatchVerifier4} from "./interfaces/IGroth16BatchVerifier4.sol";
import {IChunkedModuleVerifier} from "./interfaces/IChunkedModuleVerifier.sol";
import {IPoseidon1} from "./interfaces/IPoseidon1.sol";
import {VerifierRegistry} from "./VerifierRegistry.sol";

/// @title LoraEscrow
/// @notice Escrow for the sale of a LoRA adapter (../shared/PROTOCOL.md). The contributor proposes a
///         deal with one weight commitment `C_m` per LoRA module; after evaluating the adapter through
///         multi-party inference the buyer funds the deal with the price (ETH or one ERC-20) and fixes
///         the transcript entries `(m, hX, hY, fY)` it wants proven, at least one per module. The
///         contributor (or anyone holding its proofs) submits one Groth16 proof per entry within the
///         proving window; the escrow recomputes the challenge `rho` from the registered entry and
///         checks the proof against the module's verifier with the public signals `[C_m, hX, rho, fY]`.
///         When every entry is proven anyone can settle, which pays the contributor; if the window
///         ends first the buyer takes its deposit back.
/// @dev Payments are pushed, not pulled: each deal has exactly one payee per outcome (the contributor
///      on settle, the buyer on refund) and pays at most once, so a push in the same transaction keeps
///      the accounting exact (the contract holds precisely the deposits of funded, unsettled,
///      unrefunded deals) with no withdrawal ledger. `settle` and `refund` follow
///      checks-effects-interactions (the deal's final status is written before the transfer) and are
///      `nonReentrant`, as is `fund`, which pulls tokens. A payee that refuses the payment blocks only
///      its own deal's payout, never another deal. The contract has no `receive`/`fallback`, so plain
///      ETH sent to it is refused. Proof submission is open to anyone: a proof is bound to this chain,
///      this escrow, the deal, the module's weight commitment and the buyer's registered entry, and
///      the payment goes to the contributor whoever submits, so restricting the caller would add no
///      security while it would stop the buyer or a relayer from pushing proofs the contributor
///      published off-chain.
///
///      Weight delivery (zero-knowledge contingent payment, `proposeWithDelivery`): before funding, the
///      contributor submits per module a delivery proof that a ciphertext with hash `hC` encrypts the
///      weights behind `C_m` under a key `k` with `hK = Poseidon([k])` (`submitDelivery`); `fund`
///      reverts until every module has one, so the buyer checks the published ciphertexts against the
///      proven `hC` before it deposits. Such a deal settles only through `settleWithKeys`, which checks
///      `Poseidon([k_m]) == hK_m` for every module on-chain, emits the keys (`KeysRevealed`) and pays in
///      the same transaction: no payment without the keys, no keys without the payment. The keys must
///      come within the proving window; after it the buyer can refund even when every entry is proven.
contract LoraEscrow is ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice The BN254 scalar field modulus p; every public signal must be below it.
    uint256 public constant FIELD_MODULUS =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice Most modules a deal may have.
    uint256 public constant MAX_MODULES = 64;
    /// @notice Most transcript entries a deal may register (the proven-entries bitmap has 128 bits).
    uint256 public constant MAX_ENTRIES = 128;
    /// @notice Longest proving window.
    uint256 public constant MAX_PROVING_WINDOW = 365 days;

    /// @notice The lifecycle of a deal.
    enum Status {
        None,
        Proposed,
        Funded,
        Settled,
        Refunded,
        Cancelled
    }

    /// @notice The state of a registered transcript entry.
    enum EntryState {
        None,
        Pending,
        Proven
    }

    /// @notice A module as the contributor proposes it.
    /// @param target The LoRA target layer, e.g. `transformer.h.0.attn.c_attn`.
    /// @param shapeId The circuit shape id registered in the registry.
    /// @param commitment The weight commitment `C_m` (a field element).
    struct ModuleSpec {
        string target;
        bytes32 shapeId;
        uint256 commitment;
    }

    /// @notice A module of a deal, with the verifier copied from the registry at proposal.
    struct Module {
        string target;
        bytes32 shapeId;
        uint256 commitment;
        address verifier;
    }

    /// @notice A transcript entry as the buyer registers it at funding.
    /// @param module The module index m (position in the deal's module list).
    /// @param hX The activation hash (a field element).
    /// @param hY The output digest.
    /// @param fY The output fingerprint (a field element).
    struct EntryInput {
        uint32 module;
        uint256 hX;
        bytes32 hY;
        uint256 fY;
    }

    /// @notice A registered transcript entry.
    struct Entry {
        uint32 module;
        EntryState state;
        uint256 hX;
        bytes32 hY;
        uint256 fY;
    }

    /// @notice A deal.
    /// @param contributor The adapter owner, paid on settlement.
    /// @param deadline End of the proving window (unix seconds, inclusive); zero until funded.
    /// @param status The lifecycle status.
    /// @param buyer The fixed buyer, or zero for an open deal until someone funds it.
    /// @param entryCount Registered entries.
    /// @param unproven Registered entries not yet proven.
    /// @param token The ERC-20 paid with, or zero for ETH.
    /// @param moduleCount Modules of the deal.
    /// @param provingWindow Seconds between funding and the deadline.
    /// @param price The price, in wei or token units.
    /// @param baseModelHash The hash of the public base model's weights.
    struct Deal {
        address contributor;
        uint64 deadline;
        Status status;
        address buyer;
        uint32 entryCount;
        uint32 unproven;
        address token;
        uint32 moduleCount;
        uint64 provingWindow;
        uint256 price;
        bytes32 baseModelHash;
    }

    /// @dev A deal in storage. The first slot holds everything `submit` reads and writes (status,
    ///      deadline, entry count, the bitmap of proven entries and the CREATE nonce of the deal's entry
    ///      store), so a proof costs one cold read and one write of deal state. `getDeal` returns it as a `Deal`.
    struct DealRecord {
        Status status;
        uint64 deadline;
        uint8 entryCount;
        uint128 provenBits;
        uint48 storeNonce;
        address contributor;
        uint32 moduleCount;
        uint64 provingWindow;
        address buyer;
        address token;
        uint256 price;
        bytes32 baseModelHash;
    }

    /// @notice One proof of a batch, for the entry `entryIndex`.
    struct Proof {
        uint256 entryIndex;
        uint256[2] a;
        uint256[2][2] b;
        uint256[2] c;
    }

    /// @notice A module's weight delivery: the verifier copied from the registry at proposal and,
    ///         once proven, the key hash and the ciphertext hash.
    /// @param verifier The delivery verifier of the module's weight shape.
    /// @param proven Whether the delivery proof verified.
    /// @param hK `Poseidon([k])` of the module's delivery key.
    /// @param hC The sponge hash (tag 3) of the module's ciphertext.
    struct Delivery {
        address verifier;
        bool proven;
        uint256 hK;
        uint256 hC;
    }

    /// @dev Per deal: whether it requires delivery, and how many modules have a proven delivery.
    struct DeliveryTerms {
        bool required;
        uint32 delivered;
    }

    /// @notice The registry the module verifiers are copied from.
    VerifierRegistry public immutable registry;
    /// @notice circomlib's Poseidon hash of one element (t = 2), checks `hK = Poseidon([k])` at settlement.
    IPoseidon1 public immutable keyHasher;

    /// @dev Byte size of an entry in an entry store: module (1 byte), hX, hY, fY.
    uint256 private constant ENTRY_BYTES = 97;
    /// @dev Byte size of a module in an entry store: checker word, C_m, base x, base y.
    uint256 private constant MODULE_BYTES = 128;
    /// @dev Flag bit in a stored module's checker word: the checker is a batch verifier, used through
    ///      `verifyProofFromBase` with the stored base `IC_0 + C_m·IC_1`.
    uint256 private constant PREPARED_FLAG = 1 << 160;
    /// @dev Bit offsets of the fields in a `DealRecord`'s first storage word (Solidity's packing order).
    uint256 private constant DEADLINE_SHIFT = 8;
    uint256 private constant ENTRY_COUNT_SHIFT = 72;
    uint256 private constant PROVEN_SHIFT = 80;
    uint256 private constant STORE_NONCE_SHIFT = 208;

    uint64 private _nextDealId = 1;
    /// @dev This contract's next CREATE nonce (EIP-161: a contract starts at 1; `fund` is the only CREATE).
    uint48 private _nextStoreNonce = 1;
    mapping(uint256 dealId => DealRecord) private _deals;
    mapping(uint256 dealId => mapping(uint256 module => Module)) private _modules;
    mapping(uint256 dealId => DeliveryTerms) private _deliveryTerms;
    mapping(uint256 dealId => mapping(uint256 module => Delivery)) private _deliveries;
    mapping(uint256 dealId => mapping(uint256 module => address)) private _batchVerifiers;

    /// @notice A deal was proposed.
    event DealProposed(
        uint256 indexed dealId,
        address indexed contributor,
        address indexed buyer,
        address token,
        uint256 price,
        bytes32 baseModelHash,
        uint256 moduleCount,
        uint256 provingWindow
    );
    /// @notice A module of a proposed deal, with the verifier copied from the registry.
    event ModuleCommitted(
        uint256 indexed dealId,
        uint256 indexed module,
        bytes32 indexed shapeId,
        uint256 commitment,
        address verifier,
        string target
    );
    /// @notice A module's shape has a batch verifier, copied from the registry at proposal (`submitBatch`).
    event ModuleBatchVerifier(uint256 indexed dealId, uint256 indexed module, address batchVerifier);
    /// @notice The contributor cancelled an unfunded deal.
    event DealCancelled(uint256 indexed dealId);
    /// @notice The buyer funded the deal; the proving window runs until `deadline`.
    event DealFunded(
        uint256 indexed dealId,
        address indexed buyer,
        uint256 amount,
        uint256 entryCount,
        uint256 deadline
    );
    /// @notice A transcript entry registered at funding.
    event EntryRegistered(
        uint256 indexed dealId,
        uint256 indexed entryIndex,
        uint256 indexed module,
        uint256 hX,
        bytes32 hY,
        uint256 fY
    );
    /// @notice An entry's proof verified.
    event EntryProven(
        uint256 indexed dealId,
        uint256 indexed entryIndex,
        uint256 indexed module,
        uint256 rho
    );
    /// @notice The contributor was paid.
    event DealSettled(uint256 indexed dealId, address indexed contributor, address token, uint256 amount);
    /// @notice The buyer took its deposit back.
    event DealRefunded(uint256 indexed dealId, address indexed buyer, address token, uint256 amount);

    /// @notice The deal requires weight delivery (proposed with `proposeWithDelivery`).
    event DeliveryRequired(uint256 indexed dealId);
    /// @notice A module's delivery proof verified: a ciphertext with hash `hC` encrypts the module's
    ///         committed weights under a key with hash `hK`.
    event DeliveryProven(uint256 indexed dealId, uint256 indexed module, uint256 hK, uint256 hC);
    /// @notice The delivery keys, one per module in module order, revealed in the paying transaction.
    event KeysRevealed(uint256 indexed dealId, uint256[] keys);

    /// @notice The key hasher address holds no code.
    error KeyHasherHasNoCode(address keyHasher);
    /// @notice The module's weight shape has no delivery verifier in the registry.
    error UnregisteredDeliveryShape(uint256 module, bytes32 deliveryShapeId);
    /// @notice The deal was proposed without weight delivery.
    error DeliveryNotRequired(uint256 dealId);
    /// @notice The deal requires weight delivery: settle it with `settleWithKeys`.
    error KeysRequired(uint256 dealId);
    /// @notice The deal has no module with this index.
    error UnknownModule(uint256 dealId, uint256 module);
    /// @notice The module's delivery is proven already; it can never be replaced.
    error DeliveryAlreadyProven(uint256 dealId, uint256 module);
    /// @notice The delivery proof does not verify for `[C_m, hK, hC]`.
    error InvalidDeliveryProof(uint256 dealId, uint256 module);
    /// @notice Some modules have no proven delivery yet; the deal cannot be funded.
    error DeliveriesMissing(uint256 dealId, uint256 missing);
    /// @notice `settleWithKeys` needs exactly one key per module.
    error KeyCountMismatch(uint256 dealId, uint256 expected, uint256 received);
    /// @notice `Poseidon([key]) != hK` for this module: not the key the delivery proof was made for.
    error WrongKey(uint256 dealId, uint256 module);

    /// @notice The registry address holds no code.
    error RegistryHasNoCode(address registry);
    /// @notice The price must be positive.
    error ZeroPrice();
    /// @notice A deal needs between 1 and `MAX_MODULES` modules.
    error InvalidModuleCount(uint256 count, uint256 max);
    /// @notice The proving window must be between 1 second and `MAX_PROVING_WINDOW`.
    error InvalidProvingWindow(uint256 provingWindow, uint256 max);
    /// @notice The payment token address holds no code.
    error TokenHasNoCode(address token);
    /// @notice The module's shape has no verifier in the registry.
    error UnregisteredShape(uint256 module, bytes32 shapeId);
    /// @notice A value that must be a BN254 scalar field element (C_m, hX, fY) is not below p.
    error NotAFieldElement(uint256 value);
    /// @notice No deal has this id.
    error UnknownDeal(uint256 dealId);
    /// @notice The deal is not in the status the call needs.
    error WrongStatus(uint256 dealId, Status current, Status required);
    /// @notice Only the deal's contributor may do this.
    error NotContributor(uint256 dealId, address caller);
    /// @notice The deal has a fixed buyer and the caller is not it.
    error NotBuyer(uint256 dealId, address caller, address buyer);
    /// @notice The ETH sent differs from the price (or ETH was sent for a token deal).
    error WrongPayment(uint256 expected, uint256 received);
    /// @notice The escrow received a different token amount than the price (a fee-on-transfer or
    ///         rebasing token); such tokens are not supported.
    error TransferAmountMismatch(address token, uint256 expected, uint256 received);
    /// @notice More entries than `MAX_ENTRIES`.
    error TooManyEntries(uint256 count, uint256 max);
    /// @notice No entry registers this module; every module needs at least one.
    error MissingEntryForModule(uint256 module);
    /// @notice An entry names a module the deal does not have.
    error ModuleOutOfRange(uint256 entryIndex, uint256 module, uint256 moduleCount);
    /// @notice Entries must be sorted strictly ascending by `(module, hX)` (which also rules out duplicates).
    error EntriesNotSorted(uint256 entryIndex);
    /// @notice No entry has this index in the deal.
    error UnknownEntry(uint256 dealId, uint256 entryIndex);
    /// @notice The entry was proven already; every entry counts once.
    error EntryAlreadyProven(uint256 dealId, uint256 entryIndex);
    /// @notice The proof does not verify for the entry's public signals `[C_m, hX, rho, fY]`.
    error InvalidProof(uint256 dealId, uint256 entryIndex);
    /// @notice An empty batch of proofs.
    error NoProofs();
    /// @notice The module's shape had no batch verifier when the deal was proposed: use `submit` / `submitMany`.
    error NoBatchVerifier(uint256 dealId, uint256 module);
    /// @notice The module's verifier is not a `ChunkedModuleVerifier`: its shape is proven with one proof per
    ///         entry (`submit`, `submitMany`, `submitBatch`), not with `submitChunked`.
    error NotChunkedModule(uint256 dealId, uint256 module);
    /// @notice The batch of `proofCount` proofs checked by `batchVerifier` does not verify: at least one
    ///         proof is for other weights, inputs or outputs, or corrupt (find it with `submit`'s check, e.g.
    ///         `publicSignalsOf` and the shape's verifier).
    error InvalidBatchProof(uint256 dealId, address batchVerifier, uint256 proofCount);
    /// @notice The proving window has ended.
    error ProvingWindowClosed(uint256 dealId, uint256 deadline);
    /// @notice The proving window has not ended yet.
    error ProvingWindowOpen(uint256 dealId, uint256 deadline);
    /// @notice Some entries are not proven yet.
    error EntriesUnproven(uint256 dealId, uint256 unproven);
    /// @notice Every entry is proven: the deal can only be settled, not refunded.
    error AllEntriesProven(uint256 dealId);
    /// @notice Sending ETH to the payee failed.
    error EthTransferFailed(address to, uint256 amount);
    /// @notice Creating the deal's entry store failed or gave another address than the tracked nonce
    ///         predicts (cannot happen short of running out of gas).
    error EntryStoreFailed(address expected, address created);

    /// @notice Creates the escrow.
    /// @param registry_ The verifier registry module verifiers are copied from.
    /// @param keyHasher_ circomlib's Poseidon(1) contract (circomlibjs `poseidonContract.createCode(1)`).
    constructor(VerifierRegistry registry_, IPoseidon1 keyHasher_) {
        if (address(registry_).code.length == 0) revert RegistryHasNoCode(address(registry_));
        if (address(keyHasher_).code.length == 0) revert KeyHasherHasNoCode(address(keyHasher_));
        registry = registry_;
        keyHasher = keyHasher_;
    }

    // ------------------------------------------------------------------ contributor

    /// @notice Proposes a deal: sells the adapter committed to by `modules` for `price`.
    /// @dev Copies each module's verifier (and batch verifier, when its shape has one) from the registry
    ///      now, so later registrations cannot change which key checks this deal's proofs. Reverts with `UnregisteredShape` for an unknown shape and
    ///      `NotAFieldElement` for a commitment not below p.
    /// @param price The price in wei (ETH) or token units (> 0).
    /// @param token The ERC-20 to pay with, or `address(0)` for ETH.
    /// @param buyer The only account allowed to fund, or `address(0)` for an open deal.
    /// @param baseModelHash The hash of the public base model the adapter is for.
    /// @param modules The LoRA modules, in manifest order (module index m = position).
    /// @param provingWindow Seconds the contributor has, after funding, to prove every entry.
    /// @return dealId The new deal's id (ids start at 1).
    function propose(
        uint256 price,
        address token,
        address buyer,
        bytes32 baseModelHash,
        ModuleSpec[] calldata modules,
        uint256 provingWindow
    ) public returns (uint256 dealId) {
        if (price == 0) revert ZeroPrice();
        uint256 moduleCount = modules.length;
        if (moduleCount == 0 || moduleCount > MAX_MODULES)
            revert InvalidModuleCount(moduleCount, MAX_MODULES);
        if (provingWindow == 0 || provingWindow > MAX_PROVING_WINDOW) {
            revert InvalidProvingWindow(provingWindow, MAX_PROVING_WINDOW);
        }
        if (token != address(0) && token.code.length == 0) revert TokenHasNoCode(token);

        dealId = _nextDealId++;
        _deals[dealId] = DealRecord({
            status: Status.Proposed,
            deadline: 0,
            entryCount: 0,
            provenBits: 0,
            storeNonce: 0,
            contributor: msg.sender,
            moduleCount: uint32(moduleCount),
            provingWindow: uint64(provingWindow),
            buyer: buyer,
            token: token,
            price: price,
            baseModelHash: baseModelHash
        });
        emit DealProposed(dealId, msg.sender, buyer, token, price, baseModelHash, moduleCount, provingWindow);
        for (uint256 m = 0; m < moduleCount; ++m) {
            ModuleSpec calldata spec = modules[m];
            if (spec.commitment >= FIELD_MODULUS) revert NotAFieldElement(spec.commitment);
            (address verifier, address batchVerifier) = registry.verifiersOf(spec.shapeId);
            if (verifier == address(0)) revert UnregisteredShape(m, spec.shapeId);
            _modules[dealId][m] = Module({
                target: spec.target,
                shapeId: spec.shapeId,
                commitment: spec.commitment,
                verifier: verifier
            });
            emit ModuleCommitted(dealId, m, spec.shapeId, spec.commitment, verifier, spec.target);
            if (batchVerifier != address(0)) {
                _batchVerifiers[dealId][m] = batchVerifier;
                emit ModuleBatchVerifier(dealId, m, batchVerifier);
            }
        }
    }

    /// @notice Proposes a deal that delivers the weights (zero-knowledge contingent payment): like
    ///         `propose`, and before funding every module needs a proven delivery (`submitDelivery`);
    ///         the deal then settles only through `settleWithKeys`.
    /// @dev Copies each module's delivery verifier (for its shape's DIN, R, DOUT) from the registry now;
    ///      reverts with `UnregisteredDeliveryShape` when there is none.
    /// @param price The price in wei (ETH) or token units (> 0).
    /// @param token The ERC-20 to pay with, or `address(0)` for ETH.
    /// @param buyer The only account allowed to fund, or `address(0)` for an open deal.
    /// @param baseModelHash The hash of the public base model the adapter is for.
    /// @param modules The LoRA modules, in manifest order (module index m = position).
    /// @param provingWindow Seconds the contributor has, after funding, to prove every entry and reveal the keys.
    /// @return dealId The new deal's id.
    function proposeWithDelivery(
        uint256 price,
        address token,
        address buyer,
        bytes32 baseModelHash,
        ModuleSpec[] calldata modules,
        uint256 provingWindow
    ) external returns (uint256 dealId) {
        dealId = propose(price, token, buyer, baseModelHash, modules, provingWindow);
        _deliveryTerms[dealId].required = true;
        emit DeliveryRequired(dealId);
        uint256 moduleCount = modules.length;
        for (uint256 m = 0; m < moduleCount; ++m) {
            (address verifier, bytes32 deliveryShapeId) = registry.deliveryVerifierForShape(
                modules[m].shapeId
            );
            if (verifier == address(0)) revert UnregisteredDeliveryShape(m, deliveryShapeId);
            _deliveries[dealId][m].verifier = verifier;
        }
    }

    /// @notice Submits a module's delivery proof (contributor only, before funding, once per module):
    ///         a ciphertext with hash `hC` encrypts the weights behind the module's `C_m` under a key
    ///         with `hK = Poseidon([k])`. The contributor publishes the ciphertext off-chain.
    /// @dev Calls the copied delivery verifier with `[C_m, hK, hC]`. A proof is bound to the module by
    ///      `C_m` and to its ciphertext by `hC`; it cannot be replaced once proven, so the buyer funds
    ///      against the hashes it checked. Reverts with `NotContributor`, `WrongStatus`,
    ///      `DeliveryNotRequired`, `UnknownModule`, `DeliveryAlreadyProven`, `NotAFieldElement` or
    ///      `InvalidDeliveryProof`.
    /// @param dealId The deal.
    /// @param module The module index m.
    /// @param hK The key hash `Poseidon([k])`.
    /// @param hC The ciphertext hash `PoseidonSponge_3(c)`.
    /// @param a The proof's A point.
    /// @param b The proof's B point, each G2 coordinate pair swapped.
    /// @param c The proof's C point.
    function submitDelivery(
        uint256 dealId,
        uint256 module,
        uint256 hK,
        uint256 hC,
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c
    ) external {
        DealRecord storage deal = _existingDeal(dealId);
        if (msg.sender != deal.contributor) revert NotContributor(dealId, msg.sender);
        _requireStatus(dealId, deal, Status.Proposed);
        DeliveryTerms storage terms = _deliveryTerms[dealId];
        if (!terms.required) revert DeliveryNotRequired(dealId);
        if (module >= deal.moduleCount) revert UnknownModule(dealId, module);
        Delivery storage delivery = _deliveries[dealId][module];
        if (delivery.proven) revert DeliveryAlreadyProven(dealId, module);
        if (hK >= FIELD_MODULUS) revert NotAFieldElement(hK);
        if (hC >= FIELD_MODULUS) revert NotAFieldElement(hC);
        uint256[3] memory signals = [_modules[dealId][module].commitment, hK, hC];
        if (!IGroth16Verifier3(delivery.verifier).verifyProof(a, b, c, signals)) {
            revert InvalidDeliveryProof(dealId, module);
        }
        delivery.proven = true;
        delivery.hK = hK;
        delivery.hC = hC;
        ++terms.delivered;
        emit DeliveryProven(dealId, module, hK, hC);
    }

    /// @notice Cancels a deal nobody has funded yet (contributor only).
    /// @param dealId The deal.
    function cancel(uint256 dealId) external {
        DealRecord storage deal = _existingDeal(dealId);
        if (msg.sender != deal.contributor) revert NotContributor(dealId, msg.sender);
        _requireStatus(dealId, deal, Status.Proposed);
        deal.status = Status.Cancelled;
        emit DealCancelled(dealId);
    }

    // ------------------------------------------------------------------ buyer

    /// @notice Funds a proposed deal with exactly its price and registers the transcript entries to
    ///         prove; starts the proving window.
    /// @dev For ETH send exactly `price` as `msg.value`; for a token approve `price` first (the escrow
    ///      pulls it and reverts with `TransferAmountMismatch` unless its balance grew by exactly
    ///      `price`). `entries` must be sorted strictly ascending by `(module, hX)` and name every module
    ///      at least once; `hX` and `fY` must be field elements. The caller becomes the buyer of an open
    ///      deal. From here the buyer can only get its deposit back through `refund` after the window.
    ///      The entries, and per module its checker (batch verifier and `signalBase(C_m)`, or the generated
    ///      verifier) and `C_m`, are written once as the code of a new contract, the deal's entry store
    ///      (CREATE with this contract's nonce, kept in the deal; `EntryStoreFailed` if it does not land
    ///      where the nonce says): 97 bytes per entry and 128 per module of code instead of four storage
    ///      slots per entry. Gas (tiny shape): about 151k for one entry, 225k for four.
    /// @param dealId The deal.
    /// @param entries The transcript entries `(m, hX, hY, fY)` the contributor must prove.
    function fund(uint256 dealId, EntryInput[] calldata entries) external payable nonReentrant {
        DealRecord storage deal = _existingDeal(dealId);
        _requireStatus(dealId, deal, Status.Proposed);
        address buyer = deal.buyer;
        if (buyer == address(0)) {
            buyer = msg.sender;
            deal.buyer = msg.sender;
        } else if (msg.sender != buyer) {
            revert NotBuyer(dealId, msg.sender, buyer);
        }
        uint256 price = deal.price;
        address token = deal.token;
        uint256 expectedValue = token == address(0) ? price : 0;
        if (msg.value != expectedValue) revert WrongPayment(expectedValue, msg.value);
        DeliveryTerms storage terms = _deliveryTerms[dealId];
        if (terms.required && terms.delivered != deal.moduleCount) {
            revert DeliveriesMissing(dealId, deal.moduleCount - terms.delivered);
        }

        uint256 count = entries.length;
        if (count > MAX_ENTRIES) revert TooManyEntries(count, MAX_ENTRIES);
        uint256 storeNonce = _storeEntries(dealId, deal.moduleCount, entries);

        uint256 deadline = block.timestamp + deal.provingWindow;
        deal.entryCount = uint8(count);
        deal.deadline = uint64(deadline);
        deal.storeNonce = uint48(storeNonce);
        deal.status = Status.Funded;
        emit DealFunded(dealId, buyer, price, count, deadline);

        if (token != address(0)) {
            uint256 balanceBefore = IERC20(token).balanceOf(address(this));
            IERC20(token).safeTransferFrom(msg.sender, address(this), price);
            uint256 received = IERC20(token).balanceOf(address(this)) - balanceBefore;
            if (received != price) revert TransferAmountMismatch(token, price, received);
        }
    }

    // ------------------------------------------------------------------ proofs

    /// @notice Submits the proof of one registered entry (callable by anyone, see the contract notes).
    /// @dev Recomputes `rho = uint256(keccak256(abi.encode(block.chainid, address(this), dealId,
    ///      uint256(m), hX, hY))) % p` and checks the proof for `[C_m, hX, rho, fY]`: with the module's
    ///      batch verifier when its shape had one at proposal (`verifyProofFromBase` with the base
    ///      `IC_0 + C_m·IC_1` stored at funding: the snarkjs check less one ecMul and one ecAdd), else
    ///      with the module's generated verifier. The entry and the module's checker come from the deal's
    ///      entry store (one cold account, see `fund`), the deal's state from one storage slot. The
    ///      check is a staticcall, so the entry's proven bit is written after it without reentrancy
    ///      risk; any failure of it is `InvalidProof`. Gas (tiny shape, bench/gas.ts, receipts): about
    ///      244k with a batch verifier (206k of it precompiles, 25k transaction base and calldata),
    ///      250k with the generated verifier; `submitMany` saves the 21k base per extra proof. Reverts
    ///      with `InvalidProof`, `EntryAlreadyProven`, `UnknownEntry`, `ProvingWindowClosed` or `WrongStatus`.
    /// @param dealId The deal.
    /// @param entryIndex The entry's index in `getEntries(dealId)`.
    /// @param a The proof's A point.
    /// @param b The proof's B point, each G2 coordinate pair swapped (snarkjs Solidity call data order).
    /// @param c The proof's C point.
    function submit(
        uint256 dealId,
        uint256 entryIndex,
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c
    ) external {
        (DealRecord storage deal, uint256 word) = _openDealWord(dealId);
        uint256 bits = _verifyEntry(
            dealId,
            uint8(word >> ENTRY_COUNT_SHIFT),
            uint128(word >> PROVEN_SHIFT),
            _storeAt(word >> STORE_NONCE_SHIFT),
            entryIndex,
            a,
            b,
            c
        );
        _writeProvenBits(deal, word, bits);
    }

    /// @notice Submits several proofs of one deal in one transaction; reverts whole if any fails.
    /// @param dealId The deal.
    /// @param proofs The proofs, each with its entry index.
    function submitMany(uint256 dealId, Proof[] calldata proofs) external {
        uint256 count = proofs.length;
        if (count == 0) revert NoProofs();
        (DealRecord storage deal, uint256 word) = _openDealWord(dealId);
        uint256 entryCount = uint8(word >> ENTRY_COUNT_SHIFT);
        uint256 bits = uint128(word >> PROVEN_SHIFT);
        address store = _storeAt(word >> STORE_NONCE_SHIFT);
        for (uint256 i = 0; i < count; ++i) {
            Proof calldata proof = proofs[i];
            bits = _verifyEntry(dealId, entryCount, bits, store, proof.entryIndex, proof.a, proof.b, proof.c);
        }
        _writeProvenBits(deal, word, bits);
    }

    /// @notice Submits several proofs of one deal checked together: one random-linear-combination
    ///         pairing check per module shape (`Groth16BatchVerifier`, n + 3 pairings instead of 4n);
    ///         reverts whole if any proof fails, so nothing is proven then.
    /// @dev Every proof's module needs a batch verifier copied at proposal (`NoBatchVerifier` otherwise;
    ///      `submit` / `submitMany` always work). Proofs of modules of different shapes are grouped by
    ///      batch verifier, one staticcall per group, in order of first appearance. Public signals are
    ///      computed as in `submit`. Reverts with `NoProofs`, `UnknownEntry`, `EntryAlreadyProven` (also
    ///      for an entry twice in the batch), `NoBatchVerifier`, `InvalidBatchProof`, `ProvingWindowClosed`,
    ///      `WrongStatus`, or the batch verifier's own input errors (`CoordinateNotInField`,
    ///      `PointNotOnCurve`). Gas (tiny shape, bench/batch.ts): about 85k per proof at 8 proofs, 72k at 16,
    ///      164k at 2; one proof costs 256k, more than `submit` (244k).
    ///      Like the snarkjs verifier, a batch verifier given too little gas for ecPairing returns false, so
    ///      a transaction with a too low gas limit reverts `InvalidBatchProof`: estimate the gas.
    /// @param dealId The deal.
    /// @param proofs The proofs, each with its entry index (b as in `submit`).
    function submitBatch(uint256 dealId, Proof[] calldata proofs) external {
        uint256 count = proofs.length;
        if (count == 0) revert NoProofs();
        DealRecord storage deal = _openDeal(dealId);
        // verifyBatch(BatchProof[]) call data: selector, offset 0x20, length, then 12 words per proof.
        bytes memory payload = new bytes(68 + count * 384);
        address[] memory batchVerifiers = new address[](count);
        // Writes the proven bits before the verifier calls, which are staticcalls; a failing batch reverts it all.
        bool mixed = _stageBatch(dealId, deal, proofs, payload, batchVerifiers);
        if (!mixed) {
            _verifyBatch(dealId, batchVerifiers[0], payload, count);
            return;
        }
        uint256 grouped;
        for (uint256 i = 0; i < count; ++i) {
            if ((grouped >> i) & 1 != 0) continue;
            address batchVerifier = batchVerifiers[i];
            bytes memory group = new bytes(68 + count * 384);
            uint256 size;
            for (uint256 j = i; j < count; ++j) {
                if (batchVerifiers[j] != batchVerifier) continue;
                grouped |= uint256(1) << j;
                assembly ("memory-safe") {
                    mcopy(add(add(group, 100), mul(size, 384)), add(add(payload, 100), mul(j, 384)), 384)
                }
                ++size;
            }
            assembly ("memory-safe") {
                mstore(group, add(68, mul(size, 384)))
            }
            _verifyBatch(dealId, batchVerifier, group, size);
        }
    }

    /// @notice Submits the proof of one registered entry of a chunked module (a shape of the chunked
    ///         variant, `zklora.chunked.v1.a<WA>.b<WB>`): the module's chain of chunk proofs, checked by the
    ///         module's `ChunkedModuleVerifier` (copied at proposal) against the entry's `[C_m, hX, rho, fY]`,
    ///         with `rho` computed as in `submit` (callable by anyone).
    /// @dev The verifier call is a staticcall, so the proven bit is written after it without reentrancy risk.
    ///      Reverts with `NotChunkedModule` when the module's verifier is not a chunked one, with the
    ///      verifier's own errors for a chain that does not match the entry (`WrongChunkCount`,
    ///      `ChunkCommitmentMismatch`, `ChunkActivationHashMismatch`, `InvalidChunkProof`), and like `submit`
    ///      with `UnknownEntry`, `EntryAlreadyProven`, `ProvingWindowClosed` or `WrongStatus`. Gas grows with the
    ///      chunk count: every chunk proof is checked by its kind's generated verifier (about 230k each).
    /// @param dealId The deal.
    /// @param entryIndex The entry's index in `getEntries(dealId)`.
    /// @param chunksA The module's A chunk proofs, in column order (`IChunkedModuleVerifier.ChunkA`).
    /// @param chunksB The module's B chunk proofs, in column order (`IChunkedModuleVerifier.ChunkB`).
    function submitChunked(
        uint256 dealId,
        uint256 entryIndex,
        IChunkedModuleVerifier.ChunkA[] calldata chunksA,
        IChunkedModuleVerifier.ChunkB[] calldata chunksB
    ) external {
        (DealRecord storage deal, uint256 word) = _openDealWord(dealId);
        uint256 bits = uint128(word >> PROVEN_SHIFT);
        if (entryIndex >= uint8(word >> ENTRY_COUNT_SHIFT)) revert UnknownEntry(dealId, entryIndex);
        if ((bits >> entryIndex) & 1 != 0) revert EntryAlreadyProven(dealId, entryIndex);
        (uint256 m, uint256 rho, uint256[4] memory signals, address verifier) = _chunkedStatement(
            dealId,
            _storeAt(word >> STORE_NONCE_SHIFT),
            entryIndex
        );
        if (!IChunkedModuleVerifier(verifier).verifyChunked(signals, chunksA, chunksB)) {
            revert InvalidProof(dealId, entryIndex);
        }
        emit EntryProven(dealId, entryIndex, m, rho);
        _writeProvenBits(deal, word, bits | (uint256(1) << entryIndex));
    }

    // ------------------------------------------------------------------ payouts

    /// @notice Pays the price to the contributor once every registered entry is proven (anyone may call).
    /// @dev Checks-effects-interactions: the status becomes `Settled` before the transfer; `nonReentrant`.
    ///      Allowed after the proving window too, since the entries were proven within it.
    /// @param dealId The deal.
    function settle(uint256 dealId) external nonReentrant {
        DealRecord storage deal = _existingDeal(dealId);
        _requireStatus(dealId, deal, Status.Funded);
        if (_deliveryTerms[dealId].required) revert KeysRequired(dealId);
        uint256 unproven = _unproven(deal);
        if (unproven != 0) revert EntriesUnproven(dealId, unproven);
        deal.status = Status.Settled;
        address contributor = deal.contributor;
        address token = deal.token;
        uint256 price = deal.price;
        emit DealSettled(dealId, contributor, token, price);
        _pay(token, contributor, price);
    }

    /// @notice Settles a delivery deal: checks `Poseidon([keys[m]]) == hK_m` for every module, reveals
    ///         the keys in `KeysRevealed` and pays the contributor, all in this one transaction (anyone
    ///         may call; the keys are the contributor's secret and the payment goes to the contributor).
    /// @dev Needs every entry proven and the proving window open (the keys are part of what the
    ///      contributor owes within it; afterwards the buyer can refund). The hashes are staticcalls to
    ///      `keyHasher`; checks-effects-interactions (status `Settled` before the transfer), `nonReentrant`.
    ///      Reverts with `DeliveryNotRequired`, `EntriesUnproven`, `ProvingWindowClosed`,
    ///      `KeyCountMismatch`, `NotAFieldElement` or `WrongKey`. The keys are public from the moment
    ///      the transaction is broadcast, even if it then reverts: send it well before the deadline (a
    ///      transaction mined after it reverts, and the buyer may refund) and let the contributor be an
    ///      account that accepts the payment.
    /// @param dealId The deal.
    /// @param keys The delivery key of each module, in module order.
    function settleWithKeys(uint256 dealId, uint256[] calldata keys) external nonReentrant {
        DealRecord storage deal = _existingDeal(dealId);
        _requireStatus(dealId, deal, Status.Funded);
        if (!_deliveryTerms[dealId].required) revert DeliveryNotRequired(dealId);
        uint256 unproven = _unproven(deal);
        if (unproven != 0) revert EntriesUnproven(dealId, unproven);
        uint256 deadline = deal.deadline;
        if (block.timestamp > deadline) revert ProvingWindowClosed(dealId, deadline);
        uint256 moduleCount = deal.moduleCount;
        if (keys.length != moduleCount) revert KeyCountMismatch(dealId, moduleCount, keys.length);
        for (uint256 m = 0; m < moduleCount; ++m) {
            uint256 key = keys[m];
            if (key >= FIELD_MODULUS) revert NotAFieldElement(key);
            if (keyHasher.poseidon([key]) != _deliveries[dealId][m].hK) revert WrongKey(dealId, m);
        }
        deal.status = Status.Settled;
        address contributor = deal.contributor;
        address token = deal.token;
        uint256 price = deal.price;
        emit KeysRevealed(dealId, keys);
        emit DealSettled(dealId, contributor, token, price);
        _pay(token, contributor, price);
    }

    /// @notice Returns the deposit to the buyer once the proving window has ended with an entry
    ///         unproven, or, for a delivery deal, without the keys revealed (anyone may call; the buyer receives).
    /// @dev Checks-effects-interactions: the status becomes `Refunded` before the transfer; `nonReentrant`.
    /// @param dealId The deal.
    function refund(uint256 dealId) external nonReentrant {
        DealRecord storage deal = _existingDeal(dealId);
        _requireStatus(dealId, deal, Status.Funded);
        uint256 deadline = deal.deadline;
        if (block.timestamp <= deadline) revert ProvingWindowOpen(dealId, deadline);
        if (_unproven(deal) == 0 && !_deliveryTerms[dealId].required) revert AllEntriesProven(dealId);
        deal.status = Status.Refunded;
        address buyer = deal.buyer;
        address token = deal.token;
        uint256 price = deal.price;
        emit DealRefunded(dealId, buyer, token, price);
        _pay(token, buyer, price);
    }

    // ------------------------------------------------------------------ views

    /// @notice The id the next proposed deal gets; ids below it (from 1) exist.
    /// @return The next deal id.
    function nextDealId() external view returns (uint256) {
        return _nextDealId;
    }

    /// @notice A deal; reverts with `UnknownDeal` for an id never proposed.
    /// @param dealId The deal.
    /// @return The deal.
    function getDeal(uint256 dealId) external view returns (Deal memory) {
        DealRecord storage deal = _existingDeal(dealId);
        return
            Deal({
                contributor: deal.contributor,
                deadline: deal.deadline,
                status: deal.status,
                buyer: deal.buyer,
                entryCount: deal.entryCount,
                unproven: uint32(_unproven(deal)),
                token: deal.token,
                moduleCount: deal.moduleCount,
                provingWindow: deal.provingWindow,
                price: deal.price,
                baseModelHash: deal.baseModelHash
            });
    }

    /// @notice A deal's modules, in order (module index = position).
    /// @param dealId The deal.
    /// @return modules The modules with their copied verifiers.
    function getModules(uint256 dealId) external view returns (Module[] memory modules) {
        DealRecord storage deal = _existingDeal(dealId);
        uint256 count = deal.moduleCount;
        modules = new Module[](count);
        for (uint256 m = 0; m < count; ++m) modules[m] = _modules[dealId][m];
    }

    /// @notice A deal's registered entries, in order (empty before funding).
    /// @param dealId The deal.
    /// @return entries The entries with their proof state.
    function getEntries(uint256 dealId) external view returns (Entry[] memory entries) {
        DealRecord storage deal = _existingDeal(dealId);
        uint256 count = deal.entryCount;
        uint256 bits = deal.provenBits;
        entries = new Entry[](count);
        if (count == 0) return entries;
        address store = _storeAt(deal.storeNonce);
        for (uint256 i = 0; i < count; ++i) {
            (uint256 m, uint256 hX, bytes32 hY, uint256 fY) = _readEntry(store, i);
            entries[i] = Entry({
                module: uint32(m),
                state: (bits >> i) & 1 == 1 ? EntryState.Proven : EntryState.Pending,
                hX: hX,
                hY: hY,
                fY: fY
            });
        }
    }

    /// @notice Whether an entry is proven.
    /// @param dealId The deal.
    /// @param entryIndex The entry.
    /// @return True when its proof verified.
    function entryProven(uint256 dealId, uint256 entryIndex) external view returns (bool) {
        return entryIndex < MAX_ENTRIES && (uint256(_deals[dealId].provenBits) >> entryIndex) & 1 == 1;
    }

    /// @notice The challenge rho of a registered entry, as `submit` computes it.
    /// @param dealId The deal.
    /// @param entryIndex The entry.
    /// @return The challenge.
    function rhoOf(uint256 dealId, uint256 entryIndex) external view returns (uint256) {
        DealRecord storage deal = _existingDeal(dealId);
        if (entryIndex >= deal.entryCount) revert UnknownEntry(dealId, entryIndex);
        (uint256 m, uint256 hX, bytes32 hY, ) = _readEntry(_storeAt(deal.storeNonce), entryIndex);
        return _rho(dealId, m, hX, hY);
    }

    /// @notice The public signals `[C_m, hX, rho, fY]` a registered entry's proof must verify against.
    /// @param dealId The deal.
    /// @param entryIndex The entry.
    /// @return signals The public signals.
    function publicSignalsOf(
        uint256 dealId,
        uint256 entryIndex
    ) external view returns (uint256[4] memory signals) {
        DealRecord storage deal = _existingDeal(dealId);
        if (entryIndex >= deal.entryCount) revert UnknownEntry(dealId, entryIndex);
        (uint256 m, uint256 hX, bytes32 hY, uint256 fY) = _readEntry(_storeAt(deal.storeNonce), entryIndex);
        signals = [_modules[dealId][m].commitment, hX, _rho(dealId, m, hX, hY), fY];
    }

    /// @notice The batch verifier a module's proofs are checked with by `submitBatch` (copied from the
    ///         registry at proposal), or the zero address when its shape had none.
    /// @param dealId The deal.
    /// @param module The module index m.
    /// @return The batch verifier.
    function batchVerifierOf(uint256 dealId, uint256 module) external view returns (address) {
        DealRecord storage deal = _existingDeal(dealId);
        if (module >= deal.moduleCount) revert UnknownModule(dealId, module);
        return _batchVerifiers[dealId][module];
    }

    /// @notice Whether a deal requires weight delivery.
    /// @param dealId The deal.
    /// @return True for a deal proposed with `proposeWithDelivery`.
    function deliveryRequired(uint256 dealId) external view returns (bool) {
        _existingDeal(dealId);
        return _deliveryTerms[dealId].required;
    }

    /// @notice A delivery deal's per-module deliveries, in module order (empty for other deals).
    /// @param dealId The deal.
    /// @return deliveries The copied verifier, proof state, `hK` and `hC` of each module.
    function getDeliveries(uint256 dealId) external view returns (Delivery[] memory deliveries) {
        DealRecord storage deal = _existingDeal(dealId);
        if (!_deliveryTerms[dealId].required) return deliveries;
        uint256 count = deal.moduleCount;
        deliveries = new Delivery[](count);
        for (uint256 m = 0; m < count; ++m) deliveries[m] = _deliveries[dealId][m];
    }

    // ------------------------------------------------------------------ internals

    function _existingDeal(uint256 dealId) private view returns (DealRecord storage deal) {
        deal = _deals[dealId];
        if (deal.status == Status.None) revert UnknownDeal(dealId);
    }

    function _requireStatus(uint256 dealId, DealRecord storage deal, Status required) private view {
        Status current = deal.status;
        if (current != required) {
            if (current == Status.None) revert UnknownDeal(dealId);
            revert WrongStatus(dealId, current, required);
        }
    }

    /// @dev `_openDeal` with one SLOAD: the deal and its first storage word (`DealRecord` slot 0:
    ///      status bits 0-7, deadline 8-71, entry count 72-79, proven bits 80-207, store nonce 208-255).
    function _openDealWord(uint256 dealId) private view returns (DealRecord storage deal, uint256 word) {
        deal = _deals[dealId];
        assembly ("memory-safe") {
            word := sload(deal.slot)
        }
        if (uint8(word) != uint8(Status.Funded)) _requireStatus(dealId, deal, Status.Funded);
        uint256 deadline = uint64(word >> DEADLINE_SHIFT);
        if (block.timestamp > deadline) revert ProvingWindowClosed(dealId, deadline);
    }

    /// @dev Writes `bits` as the proven bits into the deal's first storage word `word` (read by `_openDealWord`).
    function _writeProvenBits(DealRecord storage deal, uint256 word, uint256 bits) private {
        word = (word & ~(uint256(type(uint128).max) << PROVEN_SHIFT)) | (bits << PROVEN_SHIFT);
        assembly ("memory-safe") {
            sstore(deal.slot, word)
        }
    }

    /// @dev A funded deal whose proving window is open.
    function _openDeal(uint256 dealId) private view returns (DealRecord storage deal) {
        deal = _deals[dealId];
        _requireStatus(dealId, deal, Status.Funded);
        uint256 deadline = deal.deadline;
        if (block.timestamp > deadline) revert ProvingWindowClosed(dealId, deadline);
    }

    /// @dev Checks the entries, emits `EntryRegistered` for each and writes them, with every module's
    ///      checker (see `_storeModules`), as the code of a new contract (the entry store: read with
    ///      EXTCODECOPY, one cold account instead of five cold slots per proof, never changed). Returns the
    ///      CREATE nonce the store's address derives from. Code: `0x00` (STOP, so a call does nothing),
    ///      then per entry `module (1 byte) || hX || hY || fY`, then per module
    ///      `checker word || C_m || base x || base y` (`MODULE_BYTES`).
    function _storeEntries(
        uint256 dealId,
        uint256 moduleCount,
        EntryInput[] calldata entries
    ) private returns (uint256 nonce) {
        uint256 count = entries.length;
        if (count == 0) revert MissingEntryForModule(0);
        uint256 size = 1 + count * ENTRY_BYTES + moduleCount * MODULE_BYTES;
        // Init code (10 bytes): PUSH2 size, DUP1, PUSH1 10, RETURNDATASIZE, CODECOPY, RETURNDATASIZE,
        // RETURN: returns the `size` bytes after it as the new contract's code.
        bytes memory code = new bytes(10 + size);
        uint256 data;
        assembly ("memory-safe") {
            mstore(add(code, 32), or(shl(248, 0x61), or(shl(232, size), shl(176, 0x80600a3d393df3))))
            data := add(code, 43)
        }
        uint256 previousModule;
        uint256 previousHX;
        for (uint256 i = 0; i < count; ++i) {
            EntryInput calldata input = entries[i];
            uint256 m = input.module;
            uint256 hX = input.hX;
            if (m >= moduleCount) revert ModuleOutOfRange(i, m, moduleCount);
            if (hX >= FIELD_MODULUS) revert NotAFieldElement(hX);
            if (input.fY >= FIELD_MODULUS) revert NotAFieldElement(input.fY);
            if (i == 0) {
                if (m != 0) revert MissingEntryForModule(0);
            } else if (m == previousModule) {
                if (hX <= previousHX) revert EntriesNotSorted(i);
            } else if (m < previousModule) {
                revert EntriesNotSorted(i);
            } else if (m != previousModule + 1) {
                revert MissingEntryForModule(previousModule + 1);
            }
            previousModule = m;
            previousHX = hX;
            _writeEntry(dealId, i, data + i * ENTRY_BYTES, input);
        }
        if (previousModule != moduleCount - 1) revert MissingEntryForModule(previousModule + 1);
        _storeModules(dealId, moduleCount, data + count * ENTRY_BYTES);
        nonce = _createStore(code, size);
    }

    /// @dev Writes entry `i` as `module (1 byte) || hX || hY || fY` at memory `at`; emits `EntryRegistered`.
    function _writeEntry(uint256 dealId, uint256 i, uint256 at, EntryInput calldata input) private {
        uint256 m = input.module;
        uint256 hX = input.hX;
        bytes32 hY = input.hY;
        uint256 fY = input.fY;
        assembly ("memory-safe") {
            mstore8(at, m)
            mstore(add(at, 1), hX)
            mstore(add(at, 33), hY)
            mstore(add(at, 65), fY)
        }
        emit EntryRegistered(dealId, i, m, hX, hY, fY);
    }

    /// @dev CREATEs the entry store from `code` (init code + `size` bytes of store code) with the tracked
    ///      nonce and returns that nonce; reverts `EntryStoreFailed` unless it landed at `_storeAt(nonce)`.
    function _createStore(bytes memory code, uint256 size) private returns (uint256 nonce) {
        nonce = _nextStoreNonce;
        _nextStoreNonce = uint48(nonce + 1);
        address expected = _storeAt(nonce);
        address created;
        assembly ("memory-safe") {
            created := create(0, add(code, 32), mload(code))
        }
        if (created != expected || created.code.length != size) revert EntryStoreFailed(expected, created);
    }

    /// @dev Writes each module's record at `at`: the checker word (the batch verifier copied at proposal
    ///      with `PREPARED_FLAG` and its `signalBase(C_m)`, else the generated verifier and a zero base),
    ///      then `C_m` and the base.
    function _storeModules(uint256 dealId, uint256 moduleCount, uint256 at) private view {
        for (uint256 m = 0; m < moduleCount; ++m) {
            Module storage module = _modules[dealId][m];
            uint256 commitment = module.commitment;
            address batchVerifier = _batchVerifiers[dealId][m];
            uint256 checker = uint256(uint160(module.verifier));
            uint256[2] memory base;
            if (batchVerifier != address(0)) {
                checker = uint256(uint160(batchVerifier)) | PREPARED_FLAG;
                base = IGroth16BatchVerifier4(batchVerifier).signalBase(commitment);
            }
            uint256 record = at + m * MODULE_BYTES;
            uint256 baseX = base[0];
            uint256 baseY = base[1];
            assembly ("memory-safe") {
                mstore(record, checker)
                mstore(add(record, 32), commitment)
                mstore(add(record, 64), baseX)
                mstore(add(record, 96), baseY)
            }
        }
    }

    /// @dev The address of the entry store created with this contract's CREATE nonce `nonce` (>= 1):
    ///      `keccak256(rlp([address(this), nonce]))[12:]`.
    function _storeAt(uint256 nonce) private view returns (address store) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            let head := or(shl(240, 0x94), shl(80, address()))
            switch lt(nonce, 0x80)
            case 1 {
                mstore(ptr, or(or(shl(248, 0xd6), head), shl(72, nonce)))
                store := keccak256(ptr, 23)
            }
            default {
                let n := 1
                for {} gt(nonce, sub(shl(mul(8, n), 1), 1)) {} {
                    n := add(n, 1)
                }
                mstore(ptr, or(or(shl(248, add(0xd6, n)), head), shl(72, add(0x80, n))))
                mstore(add(ptr, 23), shl(sub(256, mul(8, n)), nonce))
                store := keccak256(ptr, add(23, n))
            }
            store := and(store, 0xffffffffffffffffffffffffffffffffffffffff)
        }
    }

    /// @dev Entry `i` of an entry store.
    function _readEntry(
        address store,
        uint256 i
    ) private view returns (uint256 m, uint256 hX, bytes32 hY, uint256 fY) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore(ptr, 0)
            extcodecopy(store, add(ptr, 31), add(1, mul(i, ENTRY_BYTES)), ENTRY_BYTES)
            m := mload(ptr)
            hX := mload(add(ptr, 32))
            hY := mload(add(ptr, 64))
            fY := mload(add(ptr, 96))
        }
    }

    /// @dev Verifies the proof of a pending entry; returns `provenBits` with the entry's bit set. The
    ///      module's checker is its batch verifier (`verifyProofFromBase` with the stored base
    ///      `IC_0 + C_m·IC_1`: the snarkjs check less one ecMul and one ecAdd) when the shape had one at
    ///      proposal, else the generated verifier (`verifyProof`). Any failure of the staticcall (a
    ///      batch verifier's input errors, running out of gas) or an answer other than true is `InvalidProof`.
    function _verifyEntry(
        uint256 dealId,
        uint256 entryCount,
        uint256 provenBits,
        address store,
        uint256 entryIndex,
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c
    ) private returns (uint256) {
        if (entryIndex >= entryCount) revert UnknownEntry(dealId, entryIndex);
        if ((provenBits >> entryIndex) & 1 != 0) revert EntryAlreadyProven(dealId, entryIndex);
        (uint256 m, uint256 hX, bytes32 hY, uint256 fY) = _readEntry(store, entryIndex);
        uint256 rho = _rho(dealId, m, hX, hY);
        if (!_callChecker(store, entryCount, m, a, b, c, [hX, rho, fY]))
            revert InvalidProof(dealId, entryIndex);
        emit EntryProven(dealId, entryIndex, m, rho);
        return provenBits | (uint256(1) << entryIndex);
    }

    /// @dev Entry `entryIndex`'s module, rho, public signals `[C_m, hX, rho, fY]` and the module's verifier,
    ///      which must answer `chunkCounts()` (a `ChunkedModuleVerifier`), else `NotChunkedModule`.
    function _chunkedStatement(
        uint256 dealId,
        address store,
        uint256 entryIndex
    ) private view returns (uint256 m, uint256 rho, uint256[4] memory signals, address verifier) {
        uint256 hX;
        bytes32 hY;
        uint256 fY;
        (m, hX, hY, fY) = _readEntry(store, entryIndex);
        rho = _rho(dealId, m, hX, hY);
        Module storage module = _modules[dealId][m];
        verifier = module.verifier;
        (bool chunked, bytes memory counts) = verifier.staticcall(
            abi.encodeCall(IChunkedModuleVerifier.chunkCounts, ())
        );
        if (!chunked || counts.length != 64) revert NotChunkedModule(dealId, m);
        signals = [module.commitment, hX, rho, fY];
    }

    /// @dev Stages every proof of a batch into `payload` (`_stageBatchProof`), records each proof's batch
    ///      verifier in `batchVerifiers`, writes the deal's proven bits; returns whether they differ.
    function _stageBatch(
        uint256 dealId,
        DealRecord storage deal,
        Proof[] calldata proofs,
        bytes memory payload,
        address[] memory batchVerifiers
    ) private returns (bool mixed) {
        uint256 entryCount = deal.entryCount;
        uint256 bits = deal.provenBits;
        address store = _storeAt(deal.storeNonce);
        uint256 count = proofs.length;
        for (uint256 i = 0; i < count; ++i) {
            (bits, batchVerifiers[i]) = _stageBatchProof(
                dealId,
                entryCount,
                bits,
                store,
                proofs[i],
                payload,
                i
            );
            if (batchVerifiers[i] != batchVerifiers[0]) mixed = true;
        }
        deal.provenBits = uint128(bits);
    }

    /// @dev Calls module `m`'s checker (from the entry store) on one proof: a batch verifier's
    ///      `verifyProofFromBase(a, b, c, base, rest)` (the call data's base copied from the store) or a
    ///      generated verifier's `verifyProof(a, b, c, [C_m, rest…])`, with `rest = [hX, rho, fY]`. True only for a
    ///      successful call that returned exactly `true`.
    function _callChecker(
        address store,
        uint256 entryCount,
        uint256 m,
        uint256[2] calldata a,
        uint256[2][2] calldata b,
        uint256[2] calldata c,
        uint256[3] memory rest
    ) private view returns (bool ok) {
        uint256 record = 1 + entryCount * ENTRY_BYTES + m * MODULE_BYTES;
        uint256 ptr;
        uint256 checker;
        assembly ("memory-safe") {
            ptr := mload(0x40)
            extcodecopy(store, ptr, record, 32)
            checker := mload(ptr)
            // Call data from ptr + 28: selector, a, b, c, then the signals.
            calldatacopy(add(ptr, 32), a, 64)
            calldatacopy(add(ptr, 96), b, 128)
            calldatacopy(add(ptr, 224), c, 64)
        }
        uint256 size;
        if (checker & PREPARED_FLAG != 0) {
            uint256 selector = uint32(IGroth16BatchVerifier4.verifyProofFromBase.selector);
            assembly ("memory-safe") {
                mstore(ptr, selector)
                extcodecopy(store, add(ptr, 288), add(record, 64), 64)
                mcopy(add(ptr, 352), rest, 96)
            }
            size = 420;
        } else {
            uint256 selector = uint32(IGroth16Verifier4.verifyProof.selector);
            assembly ("memory-safe") {
                mstore(ptr, selector)
                extcodecopy(store, add(ptr, 288), add(record, 32), 32)
                mcopy(add(ptr, 320), rest, 96)
            }
            size = 388;
        }
        assembly ("memory-safe") {
            mstore(0, 0)
            let success := staticcall(gas(), and(checker, sub(shl(160, 1), 1)), add(ptr, 28), size, 0, 32)
            ok := and(success, and(eq(returndatasize(), 32), eq(mload(0), 1)))
        }
    }

    /// @dev Checks a batch proof's entry (known, unproven, not twice), writes its 12 words (a, b, c and
    ///      the signals `[C_m, hX, rho, fY]`) as proof `i` of the `verifyBatch` call data `payload`, emits
    ///      `EntryProven` (undone if the batch fails) and returns `provenBits` with the entry's bit set and
    ///      the module's batch verifier.
    function _stageBatchProof(
        uint256 dealId,
        uint256 entryCount,
        uint256 provenBits,
        address store,
        Proof calldata proof,
        bytes memory payload,
        uint256 i
    ) private returns (uint256, address batchVerifier) {
        uint256 entryIndex = proof.entryIndex;
        if (entryIndex >= entryCount) revert UnknownEntry(dealId, entryIndex);
        if ((provenBits >> entryIndex) & 1 != 0) revert EntryAlreadyProven(dealId, entryIndex);
        // Proof i's words at dst: a, b, c, then the signals C_m, hX, rho, fY. The entry's 97 bytes land
        // with the module in the low byte of the C_m word, so hX and fY are in place and hY sits in rho's.
        uint256 dst;
        uint256 m;
        assembly ("memory-safe") {
            dst := add(add(payload, 100), mul(i, 384))
            mstore(add(dst, 256), 0)
            extcodecopy(store, add(dst, 287), add(1, mul(entryIndex, ENTRY_BYTES)), ENTRY_BYTES)
            m := mload(add(dst, 256))
        }
        uint256 rho = _rho(dealId, m, _get(dst + 288), bytes32(_get(dst + 320)));
        uint256 checker;
        assembly ("memory-safe") {
            let record := add(add(1, mul(entryCount, ENTRY_BYTES)), mul(m, MODULE_BYTES))
            extcodecopy(store, add(dst, 256), record, 32)
            checker := mload(add(dst, 256))
            extcodecopy(store, add(dst, 256), add(record, 32), 32)
            mstore(add(dst, 320), rho)
            calldatacopy(dst, add(proof, 32), 256)
        }
        if (checker & PREPARED_FLAG == 0) revert NoBatchVerifier(dealId, m);
        emit EntryProven(dealId, entryIndex, m, rho);
        return (provenBits | (uint256(1) << entryIndex), address(uint160(checker)));
    }

    function _get(uint256 at) private pure returns (uint256 value) {
        assembly ("memory-safe") {
            value := mload(at)
        }
    }

    /// @dev Calls `batchVerifier.verifyBatch` with `payload` (selector, offset and length are written
    ///      here; the proofs are in place); bubbles the verifier's revert, reverts `InvalidBatchProof` on false.
    function _verifyBatch(
        uint256 dealId,
        address batchVerifier,
        bytes memory payload,
        uint256 size
    ) private view {
        bytes4 selector = IGroth16BatchVerifier4.verifyBatch.selector;
        assembly ("memory-safe") {
            mstore(add(payload, 32), selector)
            mstore(add(payload, 36), 32)
            mstore(add(payload, 68), size)
        }
        (bool success, bytes memory result) = batchVerifier.staticcall(payload);
        if (!success) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
        if (result.length != 32 || abi.decode(result, (uint256)) != 1) {
            revert InvalidBatchProof(dealId, batchVerifier, size);
        }
    }

    /// @dev Registered entries without a verified proof.
    function _unproven(DealRecord storage deal) private view returns (uint256 count) {
        uint256 missing = ((uint256(1) << deal.entryCount) - 1) & ~uint256(deal.provenBits);
        while (missing != 0) {
            missing &= missing - 1;
            ++count;
        }
    }

    function _rho(uint256 dealId, uint256 m, uint256 hX, bytes32 hY) private view returns (uint256) {
        return
            uint256(keccak256(abi.encode(block.chainid, address(this), dealId, m, hX, hY))) % FIELD_MODULUS;
    }

    function _pay(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            (bool ok, ) = to.call{value: amount}("");
            if (!ok) revert EthTransferFailed(to, amount);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }
}
