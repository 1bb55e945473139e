// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGroth16BatchVerifierN} from "./interfaces/IGroth16BatchVerifierN.sol";

/// @title Groth16BatchVerifierN
/// @notice Verifies n Groth16 proofs (BN254, snarkjs 0.7.6 conventions) against one verification key with N
///         public signals, 1 <= N <= 8, with a random linear combination: one `ecPairing` call with n + 3
///         pairs instead of n calls with 4 pairs each. The math, transcript discipline, input checks and
///         errors of `Groth16BatchVerifier` (fixed to four signals), for any signal count; deployed once per
///         key with exactly the key of a generated snarkjs verifier (`ChunkedModuleVerifier` uses one for a
///         chunked shape's A chunks, N = 5, and one for its B chunks, N = 6; src/chain/deploy.ts takes the
///         keys from `CHUNK_VERIFIER_KEYS`, parsed from contracts/verifiers/Groth16Chunk{A,B}_<shape>.sol by
///         `npm run abi` and drift-checked, and checks them against the generated verifiers' bytecode).
/// @dev The check. Proof i with public signals x_i is valid iff
///      `e(A_i, B_i) = e(alpha, beta) · e(vk_x_i, gamma) · e(C_i, delta)` with
///      `vk_x_i = IC_0 + sum_{j=1..N} x_ij · IC_j`. With scalars r_i this contract checks the single equation
///
///        prod_i e(r_i·A_i, B_i) · e(-(sum_i r_i)·alpha, beta) · e(-V, gamma) · e(-sum_i r_i·C_i, delta) == 1
///
///      where `V = sum_i r_i·vk_x_i = (sum_i r_i)·IC_0 + sum_j (sum_i r_i·x_ij mod p)·IC_j`, so the public
///      inputs cost N + 1 scalar multiplications in all, whatever n. Total: 2(n - 1) + N + 2 `ecMul` (for
///      n = 1: N, the snarkjs verifier's count; a batch of one is its exact check), about 2n + N `ecAdd` and
///      one `ecPairing` of n + 3 pairs.
///
///      Soundness: the argument of `Groth16BatchVerifier` (whose NatSpec has it in full) with
///      `r_0 = 1`, `r_i = uint256(keccak256(abi.encode(seed, i))) % p` and
///      `seed = keccak256(abi.encodePacked(TRANSCRIPT_TAG, verificationKeyHash, n, record_0, …, record_{n-1}))`,
///      `record_i = a ‖ b ‖ c ‖ signals` (8 + N words, call data order; N is fixed by the key, whose hash binds
///      `ic.length`): an invalid batch passes with probability below 2^-253 per hash evaluation. The tag
///      (`"zklora.groth16-batch-n.v1"`) differs from `Groth16BatchVerifier`'s, so the two transcripts never
///      collide.
///
///      Input checks. This contract checks itself that every proof has exactly N signals, every public
///      signal is below p, every coordinate of A, B and C below q, and A and C on the curve y^2 = x^3 + 3
///      (the point at infinity (0, 0) is accepted, as by the precompiles and the snarkjs verifier); it
///      reverts with `WrongSignalCount`, `SignalNotInField`, `CoordinateNotInField`, `PointNotOnCurve`
///      (errors of `IGroth16BatchVerifierN`; the first failing proof, coordinates before signals before
///      points). The precompiles would also refuse coordinates not below q and G1 points off the curve
///      (EIP-196, EIP-197) but not a signal not below p (it would be reduced mod p: a malleability the
///      explicit check rules out). B is checked only by ecPairing, as in `Groth16BatchVerifier`: a bad B makes
///      `verifyBatch` return false, as the snarkjs verifier does.
///
///      Key storage. The key lives in 32 immutables (the words of the largest key, N = 8; unused words
///      zero), read as PUSH32 constants: about 300 gas per call to lay them out in memory, against 2600 for
///      a cold EXTCODECOPY of a data contract or 2100 per word of storage.
contract Groth16BatchVerifierN is IGroth16BatchVerifierN {
    /// @notice The BN254 scalar field modulus p.
    uint256 internal constant P =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice The BN254 base field modulus q.
    uint256 internal constant Q =
        21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @notice The largest number of public signals a key may have.
    uint256 public constant MAX_SIGNALS = 8;
    /// @notice Domain separation of the batch challenge's seed, `bytes32("zklora.groth16-batch-n.v1")`.
    bytes32 public constant TRANSCRIPT_TAG = "zklora.groth16-batch-n.v1";

    /// @notice A Groth16 verification key with N public signals, in the words of the snarkjs verifier.
    /// @param alpha `[alphax, alphay]` (G1).
    /// @param beta `[betax1, betax2, betay1, betay2]` (G2, EIP-197 order, as the generated constants).
    /// @param gamma `[gammax1, gammax2, gammay1, gammay2]`.
    /// @param delta `[deltax1, deltax2, deltay1, deltay2]`.
    /// @param ic `[IC0x, IC0y, IC1x, IC1y, …, ICNx, ICNy]`: 2(N + 1) words.
    struct VerificationKey {
        uint256[2] alpha;
        uint256[4] beta;
        uint256[4] gamma;
        uint256[4] delta;
        uint256[] ic;
    }

    /// @notice The key's `ic` has `icWords` words; it needs 2(N + 1) for some 1 <= N <= MAX_SIGNALS.
    error UnsupportedKeySize(uint256 icWords);
    /// @notice A word of the verification key is not a valid coordinate or point (word index in the order
    ///         alpha, beta, gamma, delta, ic; `14 + ic.length` means a G2 point failed the precompile's check).
    error InvalidVerificationKey(uint256 word);
    /// @notice An ecMul or ecAdd call failed, which checked input cannot cause: the call ran out of gas.
    error PrecompileFailed();

    bytes32 private immutable _vkHash;
    uint256 private immutable _signalCount;
    uint256 private immutable _k0;
    uint256 private immutable _k1;
    uint256 private immutable _k2;
    uint256 private immutable _k3;
    uint256 private immutable _k4;
    uint256 private immutable _k5;
    uint256 private immutable _k6;
    uint256 private immutable _k7;
    uint256 private immutable _k8;
    uint256 private immutable _k9;
    uint256 private immutable _k10;
    uint256 private immutable _k11;
    uint256 private immutable _k12;
    uint256 private immutable _k13;
    uint256 private immutable _k14;
    uint256 private immutable _k15;
    uint256 private immutable _k16;
    uint256 private immutable _k17;
    uint256 private immutable _k18;
    uint256 private immutable _k19;
    uint256 private immutable _k20;
    uint256 private immutable _k21;
    uint256 private immutable _k22;
    uint256 private immutable _k23;
    uint256 private immutable _k24;
    uint256 private immutable _k25;
    uint256 private immutable _k26;
    uint256 private immutable _k27;
    uint256 private immutable _k28;
    uint256 private immutable _k29;
    uint256 private immutable _k30;
    uint256 private immutable _k31;

    /// @notice Creates the batch verifier of one verification key.
    /// @dev Checks the key's size, every coordinate below q, alpha and IC_j on the curve, and beta, gamma,
    ///      delta through one ecPairing call (on the twist, in the subgroup); reverts with
    ///      `UnsupportedKeySize` or `InvalidVerificationKey`.
    /// @param vk The key, exactly the constants of a generated snarkjs verifier.
    constructor(VerificationKey memory vk) {
        uint256 icWords = vk.ic.length;
        if (icWords % 2 != 0 || icWords < 4 || icWords > 2 * (MAX_SIGNALS + 1)) {
            revert UnsupportedKeySize(icWords);
        }
        uint256 used = 14 + icWords;
        uint256[32] memory w;
        w[0] = vk.alpha[0];
        w[1] = vk.alpha[1];
        for (uint256 k = 0; k < 4; ++k) {
            w[2 + k] = vk.beta[k];
            w[6 + k] = vk.gamma[k];
            w[10 + k] = vk.delta[k];
        }
        for (uint256 k = 0; k < icWords; ++k) w[14 + k] = vk.ic[k];
        for (uint256 k = 0; k < used; ++k) if (w[k] >= Q) revert InvalidVerificationKey(k);
        if (!_onCurve(w[0], w[1])) revert InvalidVerificationKey(0);
        for (uint256 k = 14; k < used; k += 2)
            if (!_onCurve(w[k], w[k + 1])) revert InvalidVerificationKey(k);
        uint256[18] memory g2Check;
        for (uint256 k = 0; k < 12; ++k) g2Check[(k / 4) * 6 + 2 + (k % 4)] = w[2 + k];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 8, g2Check, 576, 0, 32)
        }
        if (!ok) revert InvalidVerificationKey(used);
        _vkHash = keccak256(abi.encode(vk));
        _signalCount = icWords / 2 - 1;
        _k0 = w[0];
        _k1 = w[1];
        _k2 = w[2];
        _k3 = w[3];
        _k4 = w[4];
        _k5 = w[5];
        _k6 = w[6];
        _k7 = w[7];
        _k8 = w[8];
        _k9 = w[9];
        _k10 = w[10];
        _k11 = w[11];
        _k12 = w[12];
        _k13 = w[13];
        _k14 = w[14];
        _k15 = w[15];
        _k16 = w[16];
        _k17 = w[17];
        _k18 = w[18];
        _k19 = w[19];
        _k20 = w[20];
        _k21 = w[21];
        _k22 = w[22];
        _k23 = w[23];
        _k24 = w[24];
        _k25 = w[25];
        _k26 = w[26];
        _k27 = w[27];
        _k28 = w[28];
        _k29 = w[29];
        _k30 = w[30];
        _k31 = w[31];
    }

    /// @inheritdoc IGroth16BatchVerifierN
    function publicSignalCount() external view returns (uint256) {
        return _signalCount;
    }

    /// @inheritdoc IGroth16BatchVerifierN
    function verificationKeyHash() external view returns (bytes32) {
        return _vkHash;
    }

    /// @notice The verification key this contract checks against.
    /// @return vk The key (`ic` with 2(N + 1) words).
    function verificationKey() external view returns (VerificationKey memory vk) {
        uint256[32] memory w = _words();
        vk.alpha = [w[0], w[1]];
        vk.beta = [w[2], w[3], w[4], w[5]];
        vk.gamma = [w[6], w[7], w[8], w[9]];
        vk.delta = [w[10], w[11], w[12], w[13]];
        vk.ic = new uint256[](2 * (_signalCount + 1));
        for (uint256 k = 0; k < vk.ic.length; ++k) vk.ic[k] = w[14 + k];
    }

    /// @inheritdoc IGroth16BatchVerifierN
    /// @dev Gas: about 6000·(2n + N) + 34000·(n + 3) + 45000 plus about 2k per proof (copying, hashing,
    ///      checks) and the call data. Measured (`npm run bench:gas`, bare calls with real chunk proofs,
    ///      21k base included): N = 5: 253k, 325k, 443k for n = 1, 2, 4 (the generated verifier: 246k for
    ///      one); about 59k per further proof.
    function verifyBatch(BatchProof[] calldata proofs) external view returns (bool) {
        uint256 n = proofs.length;
        if (n == 0) revert EmptyBatch();
        uint256 ns = _signalCount;
        uint256 buf = _transcript(proofs, n, ns);
        uint256 records = buf + 96;
        _checkInput(records, n, ns);
        bytes32 seed;
        if (n > 1) {
            assembly ("memory-safe") {
                seed := keccak256(buf, add(96, mul(n, shl(5, add(8, ns)))))
            }
        }
        return _check(records, n, ns, seed, _words());
    }

    // ------------------------------------------------------------------ internals

    /// @dev Lays out `TRANSCRIPT_TAG ‖ _vkHash ‖ n ‖ record_0 ‖ … ‖ record_{n-1}` in fresh memory (returned:
    ///      its start), `record_i = a ‖ b ‖ c ‖ signals` of proof i; reverts `WrongSignalCount` for a proof
    ///      without exactly `ns` signals.
    function _transcript(
        BatchProof[] calldata proofs,
        uint256 n,
        uint256 ns
    ) private view returns (uint256 buf) {
        uint256 rs = (8 + ns) << 5;
        bytes32 tag = TRANSCRIPT_TAG;
        bytes32 vkHash = _vkHash;
        assembly ("memory-safe") {
            buf := mload(0x40)
            mstore(0x40, add(buf, add(96, mul(n, rs))))
            mstore(buf, tag)
            mstore(add(buf, 32), vkHash)
            mstore(add(buf, 64), n)
        }
        for (uint256 i = 0; i < n; ++i) {
            BatchProof calldata p = proofs[i];
            uint256[] calldata s = p.signals;
            if (s.length != ns) revert WrongSignalCount(i, ns, s.length);
            assembly ("memory-safe") {
                let dst := add(add(buf, 96), mul(i, rs))
                calldatacopy(dst, p, 256)
                calldatacopy(add(dst, 256), s.offset, shl(5, ns))
            }
        }
    }

    /// @dev Reverts on the first malformed record: coordinates not below q, signals not below p, A or C off
    ///      the curve.
    function _checkInput(uint256 records, uint256 n, uint256 ns) private pure {
        uint256 kind;
        uint256 at;
        uint256 which;
        uint256 value;
        assembly ("memory-safe") {
            function onCurve(x, y) -> yes {
                yes := or(
                    and(iszero(x), iszero(y)),
                    eq(mulmod(y, y, Q), addmod(mulmod(mulmod(x, x, Q), x, Q), 3, Q))
                )
            }
            function check(rec, count, signals) -> k, i, j, v {
                let rs := shl(5, add(8, signals))
                for {
                    i := 0
                } lt(i, count) {
                    i := add(i, 1)
                } {
                    let p := add(rec, mul(i, rs))
                    for {
                        j := 0
                    } lt(j, 8) {
                        j := add(j, 1)
                    } {
                        v := mload(add(p, shl(5, j)))
                        if iszero(lt(v, Q)) {
                            k := 1
                            leave
                        }
                    }
                    for {
                        j := 0
                    } lt(j, signals) {
                        j := add(j, 1)
                    } {
                        v := mload(add(p, add(256, shl(5, j))))
                        if iszero(lt(v, P)) {
                            k := 2
                            leave
                        }
                    }
                    j := 0
                    if iszero(onCurve(mload(p), mload(add(p, 32)))) {
                        k := 3
                        leave
                    }
                    j := 1
                    if iszero(onCurve(mload(add(p, 192)), mload(add(p, 224)))) {
                        k := 3
                        leave
                    }
                }
            }
            kind, at, which, value := check(records, n, ns)
        }
        if (kind == 1) revert CoordinateNotInField(at, value);
        if (kind == 2) revert SignalNotInField(at, which, value);
        if (kind == 3) revert PointNotOnCurve(at, which == 1);
    }

    /// @dev The batch equation over checked records (see the contract's @dev); reverts `PrecompileFailed`
    ///      when an ecMul or ecAdd fails (out of gas), false when ecPairing fails or the check does not hold.
    function _check(
        uint256 records,
        uint256 n,
        uint256 ns,
        bytes32 seed,
        uint256[32] memory vk
    ) private view returns (bool ok) {
        bool failed;
        assembly ("memory-safe") {
            // Pairing input: n + 3 pairs of 192 bytes; then 128 bytes of precompile scratch, the 64-byte
            // accumulator of sum r_i·C_i and the N + 1 sums [sum r_i, sum r_i·x_i1, …, sum r_i·x_iN] (mod p).
            let pairs := mload(0x40)
            let scratch := add(pairs, mul(add(n, 3), 192))
            let accC := add(scratch, 128)
            let sums := add(accC, 64)
            mstore(0x40, add(sums, shl(5, add(ns, 1))))
            for {
                let j := 0
            } lt(j, add(ns, 1)) {
                j := add(j, 1)
            } {
                mstore(add(sums, shl(5, j)), 0)
            }

            // out = s·(x, y); false on failure.
            function mulTo(out, x, y, s, tmp) -> success {
                mstore(tmp, x)
                mstore(add(tmp, 32), y)
                mstore(add(tmp, 64), s)
                success := staticcall(gas(), 7, tmp, 96, out, 64)
            }
            // acc += s·(x, y); false on failure.
            function mulAdd(acc, x, y, s, tmp) -> success {
                success := mulTo(tmp, x, y, s, tmp)
                mstore(add(tmp, 64), mload(acc))
                mstore(add(tmp, 96), mload(add(acc, 32)))
                success := and(success, staticcall(gas(), 6, tmp, 128, acc, 64))
            }
            // (x, y) -> (x, -y mod q) in place.
            function negate(pt) {
                mstore(add(pt, 32), mod(sub(Q, mload(add(pt, 32))), Q))
            }

            let rs := shl(5, add(8, ns))
            for {
                let i := 0
            } lt(i, n) {
                i := add(i, 1)
            } {
                let p := add(records, mul(i, rs))
                let slot := add(pairs, mul(i, 192))
                let r := 1
                switch i
                case 0 {
                    mstore(slot, mload(p))
                    mstore(add(slot, 32), mload(add(p, 32)))
                    mstore(accC, mload(add(p, 192)))
                    mstore(add(accC, 32), mload(add(p, 224)))
                }
                default {
                    mstore(0, seed)
                    mstore(32, i)
                    r := mod(keccak256(0, 64), P)
                    if iszero(mulTo(slot, mload(p), mload(add(p, 32)), r, scratch)) {
                        failed := 1
                    }
                    if iszero(mulAdd(accC, mload(add(p, 192)), mload(add(p, 224)), r, scratch)) {
                        failed := 1
                    }
                }
                // B as given (snarkjs call data order = EIP-197 order).
                mcopy(add(slot, 64), add(p, 64), 128)
                mstore(sums, addmod(mload(sums), r, P))
                // Signal j (1-based) of the record is at p + 224 + 32·j.
                for {
                    let j := 32
                } lt(j, shl(5, add(ns, 1))) {
                    j := add(j, 32)
                } {
                    let at := add(sums, j)
                    mstore(at, addmod(mload(at), mulmod(r, mload(add(p, add(224, j))), P), P))
                }
            }
            let sumR := mload(sums)

            // -(sum r_i)·alpha, beta
            let slot := add(pairs, mul(n, 192))
            switch sumR
            case 1 {
                mstore(slot, mload(vk))
                mstore(add(slot, 32), mload(add(vk, 32)))
            }
            default {
                if iszero(mulTo(slot, mload(vk), mload(add(vk, 32)), sumR, scratch)) {
                    failed := 1
                }
            }
            negate(slot)
            mcopy(add(slot, 64), add(vk, 64), 128)

            // -V, gamma with V = (sum r_i)·IC_0 + sum_j s_j·IC_j (IC_j at vk word 14 + 2j)
            slot := add(slot, 192)
            switch sumR
            case 1 {
                mstore(slot, mload(add(vk, 448)))
                mstore(add(slot, 32), mload(add(vk, 480)))
            }
            default {
                if iszero(mulTo(slot, mload(add(vk, 448)), mload(add(vk, 480)), sumR, scratch)) {
                    failed := 1
                }
            }
            for {
                let j := 1
            } lt(j, add(ns, 1)) {
                j := add(j, 1)
            } {
                let pt := add(vk, add(448, shl(6, j)))
                if iszero(mulAdd(slot, mload(pt), mload(add(pt, 32)), mload(add(sums, shl(5, j))), scratch)) {
                    failed := 1
                }
            }
            negate(slot)
            mcopy(add(slot, 64), add(vk, 192), 128)

            // -(sum r_i·C_i), delta
            slot := add(slot, 192)
            mstore(slot, mload(accC))
            mstore(add(slot, 32), mload(add(accC, 32)))
            negate(slot)
            mcopy(add(slot, 64), add(vk, 320), 128)

            let success := staticcall(gas(), 8, pairs, mul(add(n, 3), 192), 0, 32)
            ok := and(success, mload(0))
        }
        if (failed) revert PrecompileFailed();
    }

    /// @dev The 32 key words (alpha, beta, gamma, delta, IC_0 … IC_N, zeros).
    function _words() private view returns (uint256[32] memory w) {
        w[0] = _k0;
        w[1] = _k1;
        w[2] = _k2;
        w[3] = _k3;
        w[4] = _k4;
        w[5] = _k5;
        w[6] = _k6;
        w[7] = _k7;
        w[8] = _k8;
        w[9] = _k9;
        w[10] = _k10;
        w[11] = _k11;
        w[12] = _k12;
        w[13] = _k13;
        w[14] = _k14;
        w[15] = _k15;
        w[16] = _k16;
        w[17] = _k17;
        w[18] = _k18;
        w[19] = _k19;
        w[20] = _k20;
        w[21] = _k21;
        w[22] = _k22;
        w[23] = _k23;
        w[24] = _k24;
        w[25] = _k25;
        w[26] = _k26;
        w[27] = _k27;
        w[28] = _k28;
        w[29] = _k29;
        w[30] = _k30;
        w[31] = _k31;
    }

    function _onCurve(uint256 x, uint256 y) private pure returns (bool) {
        if (x == 0 && y == 0) return true;
        return mulmod(y, y, Q) == addmod(mulmod(mulmod(x, x, Q), x, Q), 3, Q);
    }
}
