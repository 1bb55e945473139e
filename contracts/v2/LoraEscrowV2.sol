// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuard} from "@openzeppelin/contracts/utils/ReentrancyGuard.sol";
import {LoraKeyWrapVerifierV2} from "./LoraKeyWrapVerifierV2.sol";
import {LoraModuleVerifierV2} from "./LoraModuleVerifierV2.sol";
import {ShapeRegistryV2} from "./ShapeRegistryV2.sol";

/// @title LoraEscrowV2
/// @notice Escrow of protocol v2 (PROTOCOL.md): the contributor proposes a deal with one weight commitment W_m
///         per LoRA module; the buyer, after evaluating through the contributor's server, funds it with the price
///         (ETH or an ERC-20), its own δ' per shape (its phase-2 contribution to the deal's keys) and one entry
///         per module (hX, hY, D_X, fY; the contract computes rho); the contributor submits one proof per module
///         (or batches per shape); the price goes to the contributor once every module is proven, back to the
///         buyer after the proving window otherwise. A delivery deal (`proposeDelivery`) also commits to one
///         delivery-key hash hK_m per module; the buyer funds it with a Baby Jubjub public key and its δ' of the
///         key-wrap circuit (`fundDelivery`), and the price goes to the contributor only with the keys wrapped for
///         that buyer and a proof that they open every hK_m (`settleWithKeys`, within the window).
/// @dev Storage per module is ONE word through the deal's life: at propose `h = keccak256(abi.encode(shapeId,
///      W_m))`, at funding `keccak256(abi.encode(h, rho, fY, D_X))`, once proven `PROVEN` (modules 0..47 are
///      instead flagged proven in the deal's record, which a submission writes anyway; `moduleWordOf` reports
///      PROVEN for them too); plus one word per shape for δ' (`keccak256(abi.encode(δ'))`) and, per shape ever
///      proposed, its verifier's address copied from the registry. Submit takes the preimages in call data and
///      checks them against the word. Events carry every value, so clients read W_m, the entries and δ' from
///      logs. Checks-effects-interactions throughout (a submission marks modules proven before the verifier's
///      STATICCALL and reverts everything on a false answer), and a reentrancy guard on every function that
///      moves value.
contract LoraEscrowV2 is ReentrancyGuard {
    using SafeERC20 for IERC20;

    /// @notice The BN254 scalar field modulus p.
    uint256 internal constant P =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice The BN254 base field modulus q.
    uint256 internal constant Q =
        21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @notice Most modules a deal may have.
    uint256 public constant MAX_MODULES = 1024;
    /// @notice Shortest and longest proving window.
    uint256 public constant MIN_WINDOW = 1 hours;
    uint256 public constant MAX_WINDOW = 90 days;

    /// @notice Life of a deal.
    enum Status {
        None,
        Proposed,
        Funded,
        Settled,
        Refunded,
        Cancelled
    }

    /// @notice A deal. `token` is zero for ETH; `buyer` zero until funding for an open deal.
    struct Deal {
        address contributor;
        uint64 deadline;
        Status status;
        uint16 modules;
        address buyer;
        uint16 proven;
        uint64 window;
        address token;
        uint256 price;
        bytes32 baseModelHash;
        bool delivery;
    }

    /// @notice A module at propose: its shape and its weight commitment W_m (a G1 point).
    struct Module {
        bytes32 shapeId;
        uint256[2] wM;
    }

    /// @notice The buyer's entry for one module: the row digests, the fold's commitment D_X and the fingerprint.
    struct Entry {
        bytes32 hX;
        bytes32 hY;
        uint256[2] dX;
        uint256 fY;
    }

    /// @notice The buyer's δ' of one shape of the deal (G2, EIP-197 order).
    struct DealKey {
        bytes32 shapeId;
        uint256[4] delta;
    }

    /// @notice What a proof of module `module` is checked against (the preimages of the stored hashes).
    struct Claim {
        uint256 module;
        bytes32 shapeId;
        uint256[2] wM;
        uint256 rho;
        uint256 fY;
        uint256[2] dX;
    }

    /// @notice The buyer's key-wrap key of a delivery deal: its Baby Jubjub public key (in the prime-order
    ///         subgroup, not the identity) and its δ' of the key-wrap circuit (G2, EIP-197 order).
    struct WrapKey {
        uint256[2] pk;
        uint256[4] delta;
    }

    /// @notice The registry of shape verifiers.
    ShapeRegistryV2 public immutable registry;
    /// @notice The number of deals proposed so far (deal ids start at 1).
    uint256 public dealCount;

    /// @dev A deal as stored: `Deal` repacked. A submission reads the first slot (deadline, status, module count)
    ///      and reads and writes the second (buyer, window, proven count and the proven flags of modules
    ///      0..FLAGGED-1: bit m set once module m is proven; a module from FLAGGED on is proven when its word is
    ///      PROVEN). The window (at least MIN_WINDOW) keeps that slot nonzero from propose on.
    struct DealRecord {
        address contributor;
        uint40 deadline;
        Status status;
        uint16 modules;
        bool delivery;
        address buyer;
        uint32 window;
        uint16 proven;
        uint48 provenFlags;
        address token;
        uint256 price;
        bytes32 baseModelHash;
    }

    mapping(uint256 dealId => DealRecord) private _deals;
    /// @dev The registry's verifier of each shape a deal has used, copied at propose (registrations are permanent).
    mapping(bytes32 shapeId => address) private _verifiers;
    mapping(uint256 dealId => bytes32[]) private _shapes;
    mapping(uint256 dealId => mapping(uint256 module => bytes32)) private _moduleWord;
    mapping(uint256 dealId => mapping(bytes32 shapeId => bytes32)) private _deltaHash;
    /// @dev A delivery deal's `keccak256(abi.encode(hK[]))`, set at propose.
    mapping(uint256 dealId => bytes32) private _deliveryHash;
    /// @dev A delivery deal's `keccak256(abi.encode(pk, δ'))` of the buyer's wrap key, set at funding.
    mapping(uint256 dealId => bytes32) private _wrapHash;
    /// @dev The registry's key-wrap verifier, copied on first use (its registration is permanent).
    address private _wrapVerifier;

    /// @notice The word of a proven module.
    bytes32 public constant PROVEN = bytes32(uint256(1));
    /// @dev Modules below this index are marked proven by a flag in the deal's record, not in their word.
    uint256 private constant FLAGGED = 48;

    /// @notice A deal was proposed.
    event DealProposed(
        uint256 indexed dealId,
        address indexed contributor,
        address indexed buyer,
        address token,
        uint256 price,
        bytes32 baseModelHash,
        uint64 window,
        uint256 modules
    );
    /// @notice Module `module` of a proposed deal commits to W_m under shape `shapeId`.
    event ModuleCommitted(
        uint256 indexed dealId,
        uint256 indexed module,
        bytes32 indexed shapeId,
        uint256[2] wM
    );
    /// @notice The buyer funded a deal; the proving window ends at `deadline`.
    event DealFunded(uint256 indexed dealId, address indexed buyer, uint256 price, uint64 deadline);
    /// @notice The buyer's δ' for one shape of a deal.
    event DealKeySet(uint256 indexed dealId, bytes32 indexed shapeId, uint256[4] delta);
    /// @notice The buyer's entry for a module, with the rho the contract computed.
    event EntryRegistered(
        uint256 indexed dealId,
        uint256 indexed module,
        bytes32 hX,
        bytes32 hY,
        uint256 rho,
        uint256 fY,
        uint256[2] dX
    );
    /// @notice A delivery deal commits to the delivery-key hash hK_m = Poseidon(k_m) of every module.
    event DeliveryCommitted(uint256 indexed dealId, uint256[] keyHashes);
    /// @notice The buyer of a delivery deal named its Baby Jubjub public key and its δ' of the key-wrap circuit.
    event WrapKeySet(uint256 indexed dealId, uint256[2] pk, uint256[4] delta);
    /// @notice The delivery keys, wrapped for the buyer: k_m = wrapped[m] − Poseidon(TAG, sk·E, dealId, m).
    event KeysDelivered(uint256 indexed dealId, uint256[2] e, uint256[] wrapped);
    /// @notice A module's proof verified.
    event ModuleProven(uint256 indexed dealId, uint256 indexed module);
    /// @notice The contributor was paid.
    event DealSettled(uint256 indexed dealId, address indexed contributor, uint256 price);
    /// @notice The buyer got its deposit back.
    event DealRefunded(uint256 indexed dealId, address indexed buyer, uint256 price);
    /// @notice The contributor withdrew an unfunded proposal.
    event DealCancelled(uint256 indexed dealId);

    error ZeroRegistry();
    error DealNotFound(uint256 dealId);
    error WrongStatus(uint256 dealId, Status status);
    error NotContributor(address caller);
    error NotBuyer(address caller);
    error ZeroPrice();
    error WindowOutOfRange(uint256 window);
    error ModuleCountOutOfRange(uint256 count);
    error NotAToken(address token);
    error UnknownShape(bytes32 shapeId);
    error InvalidCommitment(uint256 module);
    error WrongEntryCount(uint256 expected, uint256 got);
    error InvalidEntry(uint256 module);
    error WrongDealKeys(uint256 expected, uint256 got);
    error DealKeyShapeMismatch(uint256 index, bytes32 expected, bytes32 got);
    error InvalidDealKey(bytes32 shapeId);
    error DealKeyReused(bytes32 shapeId);
    error WrongDeposit(uint256 expected, uint256 got);
    error ModuleOutOfRange(uint256 module);
    error ClaimMismatch(uint256 module);
    error DealKeyMismatch(bytes32 shapeId);
    error AlreadyProven(uint256 module);
    error ProofRejected(uint256 module);
    error BatchRejected();
    error LengthMismatch(uint256 claims, uint256 proofs);
    error ClaimShapeMismatch(uint256 index);
    error ProvingWindowOver(uint64 deadline);
    error ProvingWindowOpen(uint64 deadline);
    error NotAllProven(uint256 proven, uint256 modules);
    error AllProven(uint256 dealId);
    error PaymentFailed(address to);
    error NoWrapVerifier();
    error WrongKeyHashCount(uint256 expected, uint256 got);
    error InvalidKeyHash(uint256 module);
    error NotADeliveryDeal(uint256 dealId);
    error DeliveryDeal(uint256 dealId);
    error InvalidWrapKey();
    error WrapKeyReused();
    error WrapKeyMismatch();
    error KeyHashesMismatch();
    error WrongWrappedCount(uint256 expected, uint256 got);
    error WrongWrapProofCount(uint256 expected, uint256 got);
    error InvalidWrappedKey(uint256 module);
    error WrapProofRejected(uint256 index);

    /// @notice Creates the escrow over a shape registry.
    /// @param registry_ The registry whose verifiers check the proofs.
    constructor(ShapeRegistryV2 registry_) {
        if (address(registry_) == address(0)) revert ZeroRegistry();
        registry = registry_;
    }

    // ------------------------------------------------------------------ deal steps

    /// @notice Proposes a deal; the caller is the contributor. Modules are immutable afterwards.
    /// @param buyer The only account that may fund it, or zero for anyone.
    /// @param token The ERC-20 to pay in, or zero for ETH.
    /// @param price The price (wei or token units), > 0.
    /// @param baseModelHash The base model the adapter is for (sha256 of its files, by convention).
    /// @param window The proving window after funding, in seconds (MIN_WINDOW..MAX_WINDOW).
    /// @param modules One (shape, W_m) per LoRA module, in the commit manifest's order.
    /// @return dealId The new deal's id.
    function propose(
        address buyer,
        address token,
        uint256 price,
        bytes32 baseModelHash,
        uint64 window,
        Module[] calldata modules
    ) external returns (uint256 dealId) {
        dealId = _propose(buyer, token, price, baseModelHash, window, modules, false);
    }

    /// @notice Proposes a delivery deal: as `propose`, plus the hash hK_m = Poseidon(k_m) of each module's delivery
    ///         key (the key of the published ciphertext of its weights). Settling it takes the keys wrapped for the
    ///         buyer (`settleWithKeys`). Needs the registry's key-wrap verifier.
    /// @param buyer The only account that may fund it, or zero for anyone.
    /// @param token The ERC-20 to pay in, or zero for ETH.
    /// @param price The price (wei or token units), > 0.
    /// @param baseModelHash The base model the adapter is for.
    /// @param window The proving window after funding, in seconds; keys must be delivered within it too.
    /// @param modules One (shape, W_m) per LoRA module.
    /// @param keyHashes One hK_m per module, each below p and nonzero.
    /// @return dealId The new deal's id.
    function proposeDelivery(
        address buyer,
        address token,
        uint256 price,
        bytes32 baseModelHash,
        uint64 window,
        Module[] calldata modules,
        uint256[] calldata keyHashes
    ) external returns (uint256 dealId) {
        if (keyHashes.length != modules.length) revert WrongKeyHashCount(modules.length, keyHashes.length);
        if (_wrapVerifier == address(0)) {
            address v = registry.wrapVerifier();
            if (v == address(0)) revert NoWrapVerifier();
            _wrapVerifier = v;
        }
        for (uint256 m = 0; m < keyHashes.length; ++m) {
            if (keyHashes[m] == 0 || keyHashes[m] >= P) revert InvalidKeyHash(m);
        }
        dealId = _propose(buyer, token, price, baseModelHash, window, modules, true);
        _deliveryHash[dealId] = keccak256(abi.encode(keyHashes));
        emit DeliveryCommitted(dealId, keyHashes);
    }

    function _propose(
        address buyer,
        address token,
        uint256 price,
        bytes32 baseModelHash,
        uint64 window,
        Module[] calldata modules,
        bool delivery
    ) private returns (uint256 dealId) {
        if (price == 0) revert ZeroPrice();
        if (window < MIN_WINDOW || window > MAX_WINDOW) revert WindowOutOfRange(window);
        uint256 n = modules.length;
        if (n == 0 || n > MAX_MODULES) revert ModuleCountOutOfRange(n);
        if (token != address(0) && token.code.length == 0) revert NotAToken(token);
        dealId = ++dealCount;
        DealRecord storage d = _deals[dealId];
        d.contributor = msg.sender;
        d.status = Status.Proposed;
        d.modules = uint16(n);
        if (delivery) d.delivery = true;
        d.buyer = buyer;
        d.window = uint32(window); // at most MAX_WINDOW
        // A new deal's slots are zero: zero fields are not written.
        if (token != address(0)) d.token = token;
        d.price = price;
        if (baseModelHash != bytes32(0)) d.baseModelHash = baseModelHash;
        bytes32[] storage shapes = _shapes[dealId];
        bytes32 last;
        for (uint256 m = 0; m < n; ++m) {
            Module calldata mod = modules[m];
            bytes32 s = mod.shapeId;
            // m == 0: `last` starts at zero, and shape id zero must be checked too (it has no verifier)
            if (m == 0 || s != last) {
                if (_verifierOf(s) == address(0)) revert UnknownShape(s);
                if (!_contains(shapes, s)) shapes.push(s);
                last = s;
            }
            if (!_onCurveNonZero(mod.wM[0], mod.wM[1])) revert InvalidCommitment(m);
            _moduleWord[dealId][m] = keccak256(abi.encode(s, mod.wM));
            emit ModuleCommitted(dealId, m, s, mod.wM);
        }
        emit DealProposed(dealId, msg.sender, buyer, token, price, baseModelHash, window, n);
    }

    /// @notice Withdraws an unfunded proposal (contributor only).
    /// @param dealId The deal.
    function cancel(uint256 dealId) external {
        DealRecord storage d = _deal(dealId);
        if (d.status != Status.Proposed) revert WrongStatus(dealId, d.status);
        if (msg.sender != d.contributor) revert NotContributor(msg.sender);
        d.status = Status.Cancelled;
        emit DealCancelled(dealId);
    }

    /// @notice Funds a proposed deal: the deposit, δ' per shape and one entry per module. The caller becomes the
    ///         buyer of an open deal.
    /// @dev Each δ' must be a point of G2 other than O (checked through the pairing precompile) and differ from the
    ///      deal's other δ' (PROTOCOL.md: a δ' shared by two shapes is forgeable); the keys come in
    ///      the order of the deal's shapes (`shapesOf`), the entries in module order. rho of module m is
    ///      `keccak256(abi.encode(chainid, this, dealId, m, hX, hY)) mod p`. ERC-20 deposits are checked by
    ///      balance difference (fee-on-transfer tokens are refused).
    /// @param dealId The deal.
    /// @param keys δ' of every shape of the deal, in `shapesOf` order.
    /// @param entries One entry per module, in module order.
    function fund(
        uint256 dealId,
        DealKey[] calldata keys,
        Entry[] calldata entries
    ) external payable nonReentrant {
        DealRecord storage d = _fundEffects(dealId, keys, entries);
        if (d.delivery) revert DeliveryDeal(dealId);
        _pullDeposit(d);
    }

    /// @notice Funds a delivery deal: as `fund`, plus the buyer's key-wrap key (its Baby Jubjub public key, in
    ///         the prime-order subgroup and not the identity, and its own δ' of the key-wrap circuit, which must
    ///         differ from the deal's module keys).
    /// @param dealId The deal.
    /// @param keys δ' of every shape of the deal, in `shapesOf` order.
    /// @param entries One entry per module, in module order.
    /// @param wrap The buyer's key-wrap key.
    /// @param pkRoot The subgroup certificate of `wrap.pk`: the curve point 8⁻¹·pk (mod the subgroup order).
    function fundDelivery(
        uint256 dealId,
        DealKey[] calldata keys,
        Entry[] calldata entries,
        WrapKey calldata wrap,
        uint256[2] calldata pkRoot
    ) external payable nonReentrant {
        DealRecord storage d = _fundEffects(dealId, keys, entries);
        if (!d.delivery) revert NotADeliveryDeal(dealId);
        if (!_babyJubInSubgroup(wrap.pk, pkRoot) || !_validG2(wrap.delta)) revert InvalidWrapKey();
        bytes32 h = keccak256(abi.encode(wrap.delta));
        bytes32[] storage shapes = _shapes[dealId];
        for (uint256 j = 0; j < shapes.length; ++j)
            if (_deltaHash[dealId][shapes[j]] == h) revert WrapKeyReused();
        _wrapHash[dealId] = keccak256(abi.encode(wrap.pk, wrap.delta));
        emit WrapKeySet(dealId, wrap.pk, wrap.delta);
        _pullDeposit(d);
    }

    /// @dev `fund`'s checks and effects, all but pulling the deposit.
    function _fundEffects(
        uint256 dealId,
        DealKey[] calldata keys,
        Entry[] calldata entries
    ) private returns (DealRecord storage d) {
        d = _deal(dealId);
        if (d.status != Status.Proposed) revert WrongStatus(dealId, d.status);
        if (d.buyer == address(0)) d.buyer = msg.sender;
        else if (msg.sender != d.buyer) revert NotBuyer(msg.sender);
        bytes32[] storage shapes = _shapes[dealId];
        if (keys.length != shapes.length) revert WrongDealKeys(shapes.length, keys.length);
        if (entries.length != d.modules) revert WrongEntryCount(d.modules, entries.length);
        for (uint256 i = 0; i < keys.length; ++i) {
            bytes32 s = shapes[i];
            if (keys[i].shapeId != s) revert DealKeyShapeMismatch(i, s, keys[i].shapeId);
            if (!_validG2(keys[i].delta)) revert InvalidDealKey(s);
            bytes32 h = keccak256(abi.encode(keys[i].delta));
            // One δ' for two shapes lets the smaller domain's H points act as free rows of the larger circuit.
            for (uint256 j = 0; j < i; ++j) if (_deltaHash[dealId][shapes[j]] == h) revert DealKeyReused(s);
            _deltaHash[dealId][s] = h;
            emit DealKeySet(dealId, s, keys[i].delta);
        }
        for (uint256 m = 0; m < entries.length; ++m) {
            Entry calldata e = entries[m];
            if (e.fY >= P || !_onCurve(e.dX[0], e.dX[1])) revert InvalidEntry(m);
            uint256 rho =
                uint256(keccak256(abi.encode(block.chainid, address(this), dealId, m, e.hX, e.hY))) % P;
            mapping(uint256 => bytes32) storage words = _moduleWord[dealId];
            words[m] = keccak256(abi.encode(words[m], rho, e.fY, e.dX));
            emit EntryRegistered(dealId, m, e.hX, e.hY, rho, e.fY, e.dX);
        }
        uint64 deadline = uint64(block.timestamp) + d.window;
        d.deadline = uint40(deadline);
        d.status = Status.Funded;
        emit DealFunded(dealId, d.buyer, d.price, deadline);
    }

    /// @notice Submits the proof of one module (anyone may submit; the proof binds everything).
    /// @param dealId The deal.
    /// @param c The claim: the module and the preimages of its stored commitment and entry.
    /// @param proof The Groth16 proof made with the deal's key.
    /// @param delta The deal's δ' of the module's shape.
    function submit(
        uint256 dealId,
        Claim calldata c,
        LoraModuleVerifierV2.Proof calldata proof,
        uint256[4] calldata delta
    ) external {
        DealRecord storage d = _openForProofs(dealId);
        uint256 m = c.module;
        // Effects first; the verifier is called with STATICCALL and a false answer reverts them all.
        if (!_take(d, _moduleWord[dealId], c)) revert AlreadyProven(m);
        _checkKey(dealId, c.shapeId, delta);
        emit ModuleProven(dealId, m);
        if (!LoraModuleVerifierV2(_verifiers[c.shapeId]).verify(proof, _statement(c), delta))
            revert ProofRejected(m);
    }

    /// @notice Submits proofs of several modules of one shape, checked together (random linear combination).
    ///         Modules already proven are skipped, so a copied proof cannot make the batch fail.
    /// @param dealId The deal.
    /// @param shapeId The shape of every claimed module.
    /// @param delta The deal's δ' of that shape.
    /// @param claims The claims, one per proof.
    /// @param proofs The proofs.
    /// @return newlyProven The number of modules this call proved.
    function submitBatch(
        uint256 dealId,
        bytes32 shapeId,
        uint256[4] calldata delta,
        Claim[] calldata claims,
        LoraModuleVerifierV2.Proof[] calldata proofs
    ) external returns (uint256 newlyProven) {
        DealRecord storage d = _openForProofs(dealId);
        uint256 len = claims.length;
        if (proofs.length != len) revert LengthMismatch(len, proofs.length);
        mapping(uint256 => bytes32) storage words = _moduleWord[dealId];
        uint256[] memory taken = new uint256[](len); // indices of the claims this call proves
        for (uint256 i = 0; i < len; ++i) {
            Claim calldata c = claims[i];
            if (c.shapeId != shapeId) revert ClaimShapeMismatch(i);
            if (!_take(d, words, c)) continue;
            if (newlyProven == 0) _checkKey(dealId, shapeId, delta);
            emit ModuleProven(dealId, c.module);
            taken[newlyProven++] = i;
        }
        if (newlyProven == 0) return 0;
        if (!_verifyBatch(_verifiers[shapeId], delta, claims, proofs, taken, newlyProven))
            revert BatchRejected();
    }

    /// @notice Pays the contributor once every module is proven (anyone may call).
    /// @param dealId The deal.
    function settle(uint256 dealId) external nonReentrant {
        DealRecord storage d = _deal(dealId);
        if (d.status != Status.Funded) revert WrongStatus(dealId, d.status);
        if (d.proven != d.modules) revert NotAllProven(d.proven, d.modules);
        if (d.delivery) revert DeliveryDeal(dealId);
        d.status = Status.Settled;
        emit DealSettled(dealId, d.contributor, d.price);
        _pay(d.token, d.contributor, d.price);
    }

    /// @notice Pays the contributor of a delivery deal once every module is proven, against its delivery keys
    ///         wrapped for the buyer, within the proving window (anyone may call; the proofs bind everything).
    /// @dev The wrap proofs cover modules [SLOTS·g, SLOTS·g + SLOTS) each, public inputs (pk, E, dealId, base,
    ///      count, hK[SLOTS], R[SLOTS]) with unused slots zero; each is checked under the buyer's wrap δ'.
    /// @param dealId The deal.
    /// @param wrap The buyer's wrap key as funded (checked against its hash).
    /// @param keyHashes hK_m of every module as proposed (checked against their hash).
    /// @param e E = e·G of the wrap (Baby Jubjub; the proofs show it).
    /// @param wrapped R_m for every module, each below p.
    /// @param proofs One key-wrap proof per group of SLOTS modules.
    function settleWithKeys(
        uint256 dealId,
        WrapKey calldata wrap,
        uint256[] calldata keyHashes,
        uint256[2] calldata e,
        uint256[] calldata wrapped,
        LoraKeyWrapVerifierV2.Proof[] calldata proofs
    ) external nonReentrant {
        DealRecord storage d = _openForProofs(dealId);
        if (!d.delivery) revert NotADeliveryDeal(dealId);
        if (d.proven != d.modules) revert NotAllProven(d.proven, d.modules);
        if (keccak256(abi.encode(wrap.pk, wrap.delta)) != _wrapHash[dealId]) revert WrapKeyMismatch();
        if (keccak256(abi.encode(keyHashes)) != _deliveryHash[dealId]) revert KeyHashesMismatch();
        uint256 n = d.modules;
        if (wrapped.length != n) revert WrongWrappedCount(n, wrapped.length);
        d.status = Status.Settled;
        emit KeysDelivered(dealId, e, wrapped);
        emit DealSettled(dealId, d.contributor, d.price);
        _verifyWraps(_wrapInputs(dealId, wrap, e), wrap.delta, keyHashes, wrapped, proofs);
        _pay(d.token, d.contributor, d.price);
    }

    /// @notice Returns the deposit to the buyer after the proving window, when not every module is proven.
    /// @param dealId The deal.
    function refund(uint256 dealId) external nonReentrant {
        DealRecord storage d = _deal(dealId);
        if (d.status != Status.Funded) revert WrongStatus(dealId, d.status);
        if (block.timestamp <= d.deadline) revert ProvingWindowOpen(d.deadline);
        // A delivery deal settles only with the keys, within the window: proofs alone do not keep the deposit.
        if (d.proven == d.modules && !d.delivery) revert AllProven(dealId);
        d.status = Status.Refunded;
        emit DealRefunded(dealId, d.buyer, d.price);
        _pay(d.token, d.buyer, d.price);
    }

    // ------------------------------------------------------------------ views

    /// @notice A deal.
    /// @param dealId The deal.
    /// @return The deal (status None when absent).
    function getDeal(uint256 dealId) external view returns (Deal memory) {
        DealRecord storage r = _deals[dealId];
        return
            Deal(
                r.contributor,
                r.deadline,
                r.status,
                r.modules,
                r.buyer,
                r.proven,
                r.window,
                r.token,
                r.price,
                r.baseModelHash,
                r.delivery
            );
    }

    /// @notice The deal's distinct shapes, in first-appearance order (the order of `fund`'s keys).
    /// @param dealId The deal.
    /// @return The shape ids.
    function shapesOf(uint256 dealId) external view returns (bytes32[] memory) {
        return _shapes[dealId];
    }

    /// @notice The word of a module: `h = keccak256(abi.encode(shapeId, W_m))` after propose,
    ///         `keccak256(abi.encode(h, rho, fY, D_X))` after funding, `PROVEN` once proven.
    /// @param dealId The deal.
    /// @param module The module index.
    /// @return The word (zero when absent).
    function moduleWordOf(uint256 dealId, uint256 module) external view returns (bytes32) {
        return _isProven(dealId, module) ? PROVEN : _moduleWord[dealId][module];
    }

    /// @notice `keccak256(abi.encode(δ'))` of a shape of a funded deal.
    /// @param dealId The deal.
    /// @param shapeId The shape.
    /// @return The hash (zero when unset).
    function dealKeyHashOf(uint256 dealId, bytes32 shapeId) external view returns (bytes32) {
        return _deltaHash[dealId][shapeId];
    }

    /// @notice A delivery deal's `keccak256(abi.encode(hK[]))` (zero for other deals).
    /// @param dealId The deal.
    /// @return The hash.
    function deliveryHashOf(uint256 dealId) external view returns (bytes32) {
        return _deliveryHash[dealId];
    }

    /// @notice A funded delivery deal's `keccak256(abi.encode(pk, δ'))` of the buyer's wrap key (zero otherwise).
    /// @param dealId The deal.
    /// @return The hash.
    function wrapKeyHashOf(uint256 dealId) external view returns (bytes32) {
        return _wrapHash[dealId];
    }

    /// @notice Whether a module of a deal is proven.
    /// @param dealId The deal.
    /// @param module The module index.
    /// @return True when proven.
    function isProven(uint256 dealId, uint256 module) external view returns (bool) {
        return _isProven(dealId, module);
    }

    // ------------------------------------------------------------------ internals

    function _deal(uint256 dealId) private view returns (DealRecord storage d) {
        d = _deals[dealId];
        if (d.status == Status.None) revert DealNotFound(dealId);
    }

    function _openForProofs(uint256 dealId) private view returns (DealRecord storage d) {
        d = _deal(dealId);
        if (d.status != Status.Funded) revert WrongStatus(dealId, d.status);
        if (block.timestamp > d.deadline) revert ProvingWindowOver(d.deadline);
    }

    /// @dev The registry's verifier of a shape (zero when unregistered), copied here on first use: registrations
    ///      are permanent, so submissions read one slot instead of calling the registry.
    function _verifierOf(bytes32 shapeId) private returns (address v) {
        v = _verifiers[shapeId];
        if (v == address(0)) {
            v = registry.verifierOf(shapeId);
            if (v != address(0)) _verifiers[shapeId] = v;
        }
    }

    /// @dev The word a funded module's claim must match: `keccak256(abi.encode(h, rho, fY, D_X))` with
    ///      `h = keccak256(abi.encode(shapeId, W_m))`.
    function _claimWord(Claim calldata c) private pure returns (bytes32) {
        return keccak256(abi.encode(keccak256(abi.encode(c.shapeId, c.wM)), c.rho, c.fY, c.dX));
    }

    /// @dev Checks a funded module's claim against its word and marks the module proven (a flag in the deal's
    ///      record below FLAGGED, its word from FLAGGED on); false, changing nothing, when already proven.
    function _take(
        DealRecord storage d,
        mapping(uint256 => bytes32) storage words,
        Claim calldata c
    ) private returns (bool) {
        uint256 m = c.module;
        uint256 flags = d.provenFlags;
        bytes32 word = words[m];
        if (m < FLAGGED ? (flags >> m) & 1 == 1 : word == PROVEN) return false;
        if (m >= d.modules) revert ModuleOutOfRange(m);
        if (word != _claimWord(c)) revert ClaimMismatch(m);
        if (m < FLAGGED) d.provenFlags = uint48(flags | (1 << m));
        else words[m] = PROVEN;
        d.proven += 1; // distinct modules below d.modules (at most MAX_MODULES)
        return true;
    }

    /// @dev `verifier.verifyBatch` of the first `n` claims of `taken` and their proofs. When none was skipped the
    ///      proofs go on as call data: copying them to memory costs about 3k gas more per module (bench:gas).
    function _verifyBatch(
        address verifier,
        uint256[4] calldata delta,
        Claim[] calldata claims,
        LoraModuleVerifierV2.Proof[] calldata proofs,
        uint256[] memory taken,
        uint256 n
    ) private view returns (bool) {
        LoraModuleVerifierV2.Statement[] memory ss = new LoraModuleVerifierV2.Statement[](n);
        for (uint256 k = 0; k < n; ++k) ss[k] = _statement(claims[taken[k]]);
        if (n == proofs.length) return LoraModuleVerifierV2(verifier).verifyBatch(proofs, ss, delta);
        LoraModuleVerifierV2.Proof[] memory ps = new LoraModuleVerifierV2.Proof[](n);
        for (uint256 k = 0; k < n; ++k) ps[k] = proofs[taken[k]];
        return LoraModuleVerifierV2(verifier).verifyBatch(ps, ss, delta);
    }

    /// @dev The verifier's statement of a claim.
    function _statement(Claim calldata c) private pure returns (LoraModuleVerifierV2.Statement memory) {
        return LoraModuleVerifierV2.Statement(c.rho, c.fY, c.dX, c.wM);
    }

    /// @dev The key-wrap proofs' public inputs with the per-deal part filled in: pk, E, dealId.
    function _wrapInputs(
        uint256 dealId,
        WrapKey calldata wrap,
        uint256[2] calldata e
    ) private view returns (uint256[] memory inputs) {
        inputs = new uint256[](7 + 2 * LoraKeyWrapVerifierV2(_wrapVerifier).SLOTS());
        inputs[0] = wrap.pk[0];
        inputs[1] = wrap.pk[1];
        inputs[2] = e[0];
        inputs[3] = e[1];
        inputs[4] = dealId;
    }

    /// @dev Checks the key-wrap proofs of `settleWithKeys`, one per group of the verifier's SLOTS modules.
    function _verifyWraps(
        uint256[] memory inputs,
        uint256[4] calldata delta,
        uint256[] calldata keyHashes,
        uint256[] calldata wrapped,
        LoraKeyWrapVerifierV2.Proof[] calldata proofs
    ) private view {
        uint256 slots = (inputs.length - 7) / 2;
        uint256 groups = (wrapped.length + slots - 1) / slots;
        if (proofs.length != groups) revert WrongWrapProofCount(groups, proofs.length);
        for (uint256 g = 0; g < groups; ++g) {
            _wrapSlots(inputs, g * slots, slots, keyHashes, wrapped);
            if (!LoraKeyWrapVerifierV2(_wrapVerifier).verify(proofs[g], inputs, delta))
                revert WrapProofRejected(g);
        }
    }

    /// @dev Writes base, count, hK[] and R[] of the group starting at module `base` into `inputs` (unused slots 0).
    function _wrapSlots(
        uint256[] memory inputs,
        uint256 base,
        uint256 slots,
        uint256[] calldata keyHashes,
        uint256[] calldata wrapped
    ) private pure {
        uint256 count = wrapped.length - base < slots ? wrapped.length - base : slots;
        inputs[5] = base;
        inputs[6] = count;
        for (uint256 i = 0; i < slots; ++i) {
            uint256 r;
            uint256 hk;
            if (i < count) {
                r = wrapped[base + i];
                if (r >= P) revert InvalidWrappedKey(base + i);
                hk = keyHashes[base + i];
            }
            inputs[7 + i] = hk;
            inputs[7 + slots + i] = r;
        }
    }

    /// @dev δ' must be the deal's key of the shape.
    function _checkKey(uint256 dealId, bytes32 shapeId, uint256[4] calldata delta) private view {
        if (_deltaHash[dealId][shapeId] != keccak256(abi.encode(delta))) revert DealKeyMismatch(shapeId);
    }

    function _isProven(uint256 dealId, uint256 module) private view returns (bool) {
        if (module < FLAGGED) return (_deals[dealId].provenFlags >> module) & 1 == 1;
        return _moduleWord[dealId][module] == PROVEN;
    }

    function _pullDeposit(DealRecord storage d) private {
        if (d.token == address(0)) {
            if (msg.value != d.price) revert WrongDeposit(d.price, msg.value);
            return;
        }
        if (msg.value != 0) revert WrongDeposit(0, msg.value);
        IERC20 t = IERC20(d.token);
        uint256 before = t.balanceOf(address(this));
        t.safeTransferFrom(msg.sender, address(this), d.price);
        uint256 got = t.balanceOf(address(this)) - before;
        if (got != d.price) revert WrongDeposit(d.price, got);
    }

    function _pay(address token, address to, uint256 amount) private {
        if (token == address(0)) {
            (bool ok, ) = to.call{value: amount}("");
            if (!ok) revert PaymentFailed(to);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    function _contains(bytes32[] storage list, bytes32 v) private view returns (bool) {
        for (uint256 i = 0; i < list.length; ++i) if (list[i] == v) return true;
        return false;
    }

    function _onCurve(uint256 x, uint256 y) private pure returns (bool) {
        if (x >= Q || y >= Q) return false;
        if (x == 0 && y == 0) return true;
        return mulmod(y, y, Q) == addmod(mulmod(mulmod(x, x, Q), x, Q), 3, Q);
    }

    function _onCurveNonZero(uint256 x, uint256 y) private pure returns (bool) {
        return !(x == 0 && y == 0) && _onCurve(x, y);
    }

    /// @dev Baby Jubjub (a·x² + y² = 1 + d·x²·y² over F_p, a = 168700, d = 168696): `pk` is a point of the
    ///      prime-order subgroup other than the identity (0, 1), shown by the certificate `q`, a curve point with
    ///      8·q = pk. The curve's group has order 8·l (l prime), so 8·q always lies in the subgroup of order l, and
    ///      every point of it is 8·q for q = 8⁻¹·pk (mod l). Three projective doublings (dbl-2008-bbjlp, complete
    ///      on this curve) instead of a 251-bit multiplication by l. A point outside the subgroup has a small-order
    ///      part: S = e·PK would not be the Diffie–Hellman value the buyer alone can compute.
    function _babyJubInSubgroup(uint256[2] calldata pk, uint256[2] calldata q) private pure returns (bool) {
        uint256 px = pk[0];
        uint256 py = pk[1];
        uint256 qx = q[0];
        uint256 qy = q[1];
        if (px >= P || py >= P || qx >= P || qy >= P || (px == 0 && py == 1)) return false;
        uint256 x2 = mulmod(qx, qx, P);
        uint256 y2 = mulmod(qy, qy, P);
        if (addmod(mulmod(168700, x2, P), y2, P) != addmod(1, mulmod(168696, mulmod(x2, y2, P), P), P))
            return false;
        (uint256 x, uint256 y, uint256 z) = _bjDouble(qx, qy, 1);
        (x, y, z) = _bjDouble(x, y, z);
        (x, y, z) = _bjDouble(x, y, z);
        // (x : y : z) == (px, py): x == px·z and y == py·z, z ≠ 0.
        return z != 0 && x == mulmod(px, z, P) && y == mulmod(py, z, P);
    }

    /// @dev Projective doubling (dbl-2008-bbjlp) on Baby Jubjub.
    function _bjDouble(
        uint256 x1,
        uint256 y1,
        uint256 z1
    ) private pure returns (uint256 x3, uint256 y3, uint256 z3) {
        assembly ("memory-safe") {
            let c := mulmod(x1, x1, P)
            let d := mulmod(y1, y1, P)
            let b := mulmod(addmod(x1, y1, P), addmod(x1, y1, P), P)
            let e := mulmod(168700, c, P)
            let f := addmod(e, d, P)
            let j := mulmod(z1, z1, P)
            j := addmod(f, sub(P, addmod(j, j, P)), P)
            x3 := mulmod(addmod(b, sub(P, addmod(c, d, P)), P), j, P)
            y3 := mulmod(f, addmod(e, sub(P, d), P), P)
            z3 := mulmod(f, j, P)
        }
    }

    /// @dev δ' is a point of G2 other than O: the pairing precompile refuses a G2 point off the twist or outside
    ///      the subgroup even when paired with the G1 point at infinity (EIP-197); one pair costs 79k gas.
    function _validG2(uint256[4] calldata g) private view returns (bool) {
        if (g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0) return false;
        if (g[0] >= Q || g[1] >= Q || g[2] >= Q || g[3] >= Q) return false;
        uint256[6] memory inp = [uint256(0), 0, g[0], g[1], g[2], g[3]];
        bool ok;
        uint256[1] memory out;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 8, inp, 192, out, 32)
        }
        return ok && out[0] == 1;
    }
}
