// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title LoraKeyWrapVerifierV2
/// @notice Groth16 verifier of the key-wrap circuit of protocol v2 (PROTOCOL.md, "Weights delivered with the
///         payment"; circuits/wrap/wrap_v2.circom): one proof shows, for up to SLOTS modules of a deal, that each
///         wrapped key R_m = k_m + Poseidon(TAG, S, dealId, m), S = e·PK_buyer, E = e·G, opens the stored
///         hK_m = Poseidon(k_m). δ is not a constant: every deal has the buyer's own δ', passed by the escrow.
/// @dev The constants α, β, γ and the IC points depend only on the circuit and the ptau (phase 1). The IC points
///      are kept in the code of a data contract written once by the constructor (read back with EXTCODECOPY).
///      `keyHash = keccak256(abi.encode(r1csSha256, ptauSha256, alpha, beta, gamma, ic))`, the value the client's
///      `buildWrapKey` computes, so a buyer compares one word with its own derivation before funding.
contract LoraKeyWrapVerifierV2 {
    uint256 internal constant P =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    uint256 internal constant Q =
        21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @notice Public inputs before the per-slot ones: pk (2), E (2), dealId, base, count.
    uint256 public constant FIXED_INPUTS = 7;

    /// @notice A Groth16 proof. `b` is a G2 point in EIP-197 order `[x_im, x_re, y_im, y_re]`.
    struct Proof {
        uint256[2] a;
        uint256[4] b;
        uint256[2] c;
    }

    /// @notice The wrap circuit's key, without δ.
    struct WrapKey {
        bytes32 r1csSha256;
        bytes32 ptauSha256;
        uint256[2] alpha;
        uint256[4] beta;
        uint256[4] gamma;
        uint256[2][] ic;
    }

    /// @notice A key constant is not valid: its index in the order alpha, beta, gamma, ic (3 + i for IC_i), or
    ///         type(uint256).max when the number of IC points does not fit the circuit's layout.
    error InvalidWrapKeyConstant(uint256 index);
    /// @notice `verify` got `got` public inputs; the circuit has `expected`.
    error WrongInputCount(uint256 expected, uint256 got);
    /// @notice Public input `index` is not below p.
    error InputNotInField(uint256 index);
    /// @notice Writing the IC points into the data contract failed.
    error DataStoreFailed();

    /// @notice Modules per proof.
    uint256 public immutable SLOTS;
    /// @notice The hash binding every constant of the key (see the contract's NatSpec).
    bytes32 public immutable keyHash;

    uint256 private immutable _ax;
    uint256 private immutable _ay;
    uint256 private immutable _b0;
    uint256 private immutable _b1;
    uint256 private immutable _b2;
    uint256 private immutable _b3;
    uint256 private immutable _g0;
    uint256 private immutable _g1;
    uint256 private immutable _g2;
    uint256 private immutable _g3;
    uint256 private immutable _nInputs;
    address private immutable _icData;

    /// @notice Creates the verifier of one wrap key.
    /// @dev Checks every coordinate below q, the G1 constants on the curve and β, γ in G2 (one ecPairing call).
    /// @param k The key.
    constructor(WrapKey memory k) {
        uint256 n = k.ic.length;
        if (n < FIXED_INPUTS + 3 || (n - 1 - FIXED_INPUTS) % 2 != 0)
            revert InvalidWrapKeyConstant(type(uint256).max);
        if (k.alpha[0] >= Q || k.alpha[1] >= Q || !_onCurve(k.alpha[0], k.alpha[1]))
            revert InvalidWrapKeyConstant(0);
        for (uint256 j = 0; j < 4; ++j) {
            if (k.beta[j] >= Q) revert InvalidWrapKeyConstant(1);
            if (k.gamma[j] >= Q) revert InvalidWrapKeyConstant(2);
        }
        bytes memory blob = new bytes(64 * n);
        for (uint256 i = 0; i < n; ++i) {
            uint256 x = k.ic[i][0];
            uint256 y = k.ic[i][1];
            if (x >= Q || y >= Q || !_onCurve(x, y)) revert InvalidWrapKeyConstant(3 + i);
            assembly ("memory-safe") {
                let at := add(add(blob, 32), mul(i, 64))
                mstore(at, x)
                mstore(add(at, 32), y)
            }
        }
        // e(α, β)·e(-α, β)·e(α, γ)·e(-α, γ) == 1 for any points of G2; ecPairing fails otherwise.
        uint256 negAy = (Q - k.alpha[1]) % Q;
        uint256[24] memory chk = [
            k.alpha[0],
            k.alpha[1],
            k.beta[0],
            k.beta[1],
            k.beta[2],
            k.beta[3],
            k.alpha[0],
            negAy,
            k.beta[0],
            k.beta[1],
            k.beta[2],
            k.beta[3],
            k.alpha[0],
            k.alpha[1],
            k.gamma[0],
            k.gamma[1],
            k.gamma[2],
            k.gamma[3],
            k.alpha[0],
            negAy,
            k.gamma[0],
            k.gamma[1],
            k.gamma[2],
            k.gamma[3]
        ];
        bool ok;
        uint256[1] memory out;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 8, chk, 768, out, 32)
        }
        if (!ok || out[0] != 1) revert InvalidWrapKeyConstant(1);
        keyHash = keccak256(abi.encode(k.r1csSha256, k.ptauSha256, k.alpha, k.beta, k.gamma, k.ic));
        SLOTS = (n - 1 - FIXED_INPUTS) / 2;
        _nInputs = n - 1;
        _ax = k.alpha[0];
        _ay = k.alpha[1];
        _b0 = k.beta[0];
        _b1 = k.beta[1];
        _b2 = k.beta[2];
        _b3 = k.beta[3];
        _g0 = k.gamma[0];
        _g1 = k.gamma[1];
        _g2 = k.gamma[2];
        _g3 = k.gamma[3];
        _icData = _store(blob);
    }

    /// @notice The IC points (IC_0 first), for clients to compare with their own derivation.
    /// @return ic The points.
    function icPoints() external view returns (uint256[2][] memory ic) {
        uint256 n = _nInputs + 1;
        ic = new uint256[2][](n);
        bytes memory blob = new bytes(64 * n);
        address data = _icData;
        assembly ("memory-safe") {
            extcodecopy(data, add(blob, 32), 1, mul(n, 64))
        }
        for (uint256 i = 0; i < n; ++i) {
            uint256 x;
            uint256 y;
            assembly ("memory-safe") {
                let at := add(add(blob, 32), mul(i, 64))
                x := mload(at)
                y := mload(add(at, 32))
            }
            ic[i] = [x, y];
        }
    }

    /// @notice The constants α, β, γ.
    /// @return alpha [α]₁.
    /// @return beta [β]₂ (EIP-197 order).
    /// @return gamma [γ]₂ (EIP-197 order).
    function constants()
        external
        view
        returns (uint256[2] memory alpha, uint256[4] memory beta, uint256[4] memory gamma)
    {
        alpha = [_ax, _ay];
        beta = [_b0, _b1, _b2, _b3];
        gamma = [_g0, _g1, _g2, _g3];
    }

    /// @notice Verifies one key-wrap proof under the deal's δ'.
    /// @dev Reverts `WrongInputCount` or `InputNotInField` on malformed inputs; returns false when the pairing
    ///      check fails or a point is invalid (the precompiles refuse it). Zero inputs cost nothing (unused slots).
    /// @param proof The proof.
    /// @param inputs The public inputs in circuit order: pk, E, dealId, base, count, hK[SLOTS], R[SLOTS].
    /// @param delta The deal's wrap key [δ']₂ (EIP-197 order).
    /// @return True iff the proof verifies.
    function verify(
        Proof calldata proof,
        uint256[] calldata inputs,
        uint256[4] calldata delta
    ) external view returns (bool) {
        uint256 n = _nInputs;
        if (inputs.length != n) revert WrongInputCount(n, inputs.length);
        uint256 m;
        assembly ("memory-safe") {
            m := mload(0x40)
            mstore(0x40, add(m, add(1120, mul(add(n, 1), 64))))
        }
        // IC points at m + 1120; vk_x accumulates at m, the operand at m + 64.
        address data = _icData;
        uint256 ic = m + 1120;
        assembly ("memory-safe") {
            extcodecopy(data, ic, 1, mul(add(n, 1), 64))
            mstore(m, mload(ic))
            mstore(add(m, 32), mload(add(ic, 32)))
        }
        for (uint256 i = 0; i < n; ++i) {
            uint256 s = inputs[i];
            if (s >= P) revert InputNotInField(i);
            if (s == 0) continue;
            bool ok;
            assembly ("memory-safe") {
                let at := add(ic, mul(add(i, 1), 64))
                mstore(add(m, 64), mload(at))
                mstore(add(m, 96), mload(add(at, 32)))
                mstore(add(m, 128), s)
                // Yul evaluates arguments right to left: two statements keep ecMul before ecAdd.
                ok := staticcall(gas(), 7, add(m, 64), 96, add(m, 64), 64)
                ok := and(ok, staticcall(gas(), 6, m, 128, m, 64))
            }
            if (!ok) return false;
        }
        return _pairing(m, proof, delta);
    }

    // ------------------------------------------------------------------ internals

    /// @dev The pairing check with vk_x at `m`: the four pairs (-A, B), (α, β), (vk_x, γ), (C, δ') at m + 192.
    function _pairing(
        uint256 m,
        Proof calldata proof,
        uint256[4] calldata delta
    ) private view returns (bool) {
        uint256 p = m + 192;
        bool okA;
        assembly ("memory-safe") {
            calldatacopy(p, proof, 64)
            let ay := mload(add(p, 32))
            okA := and(lt(mload(p), Q), lt(ay, Q))
            if ay {
                mstore(add(p, 32), sub(Q, ay))
            }
            calldatacopy(add(p, 64), add(proof, 64), 128)
            mstore(add(p, 384), mload(m))
            mstore(add(p, 416), mload(add(m, 32)))
            calldatacopy(add(p, 576), add(proof, 192), 64)
            calldatacopy(add(p, 640), delta, 128)
        }
        if (!okA) return false;
        _put(p + 192, [_ax, _ay, _b0, _b1, _b2, _b3]);
        _put(p + 448, [_g0, _g1, _g2, _g3, 0, 0]);
        // _put wrote two zero words over C at p + 576: copy C again.
        bool ok;
        uint256 out;
        assembly ("memory-safe") {
            calldatacopy(add(p, 576), add(proof, 192), 64)
            mstore(0, 0)
            ok := staticcall(gas(), 8, p, 768, 0, 32)
            out := mload(0)
        }
        return ok && out == 1;
    }

    function _put(uint256 at, uint256[6] memory v) private pure {
        for (uint256 i = 0; i < 6; ++i) {
            uint256 x = v[i];
            assembly ("memory-safe") {
                mstore(add(at, mul(i, 32)), x)
            }
        }
    }

    /// @dev y^2 == x^3 + 3 mod q, or the point at infinity (0, 0). Coordinates already below q.
    function _onCurve(uint256 x, uint256 y) private pure returns (bool) {
        if (x == 0 && y == 0) return true;
        return mulmod(y, y, Q) == addmod(mulmod(mulmod(x, x, Q), x, Q), 3, Q);
    }

    /// @dev Deploys a contract whose code is 0x00 ‖ data (never callable: it starts with STOP).
    function _store(bytes memory data) private returns (address a) {
        // PUSH2 len+1, DUP1, PUSH1 0x0a, RETURNDATASIZE, CODECOPY, RETURNDATASIZE, RETURN; then 0x00 ‖ data.
        bytes memory init = abi.encodePacked(hex"61", uint16(data.length + 1), hex"80600a3d393df300", data);
        assembly ("memory-safe") {
            a := create(0, add(init, 32), mload(init))
        }
        if (a == address(0)) revert DataStoreFailed();
    }
}
