// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// @title LoraModuleVerifierV2
/// @notice Verifies protocol-v2 module proofs of one shape (DIN, R, DOUT): Groth16 (BN254, snarkjs 0.7.6) with
///         committed public inputs. Deployed once per shape with the on-chain part of the shape key, which is
///         fixed by the circuit and the powers-of-tau file alone (phase 2 changes only δ, L and H). The deal's
///         δ' (the buyer's own phase-2 contribution) is passed in per call.
/// @dev One module proof (A, B, C) for the statement (rho, fY, D_X, W_m) is valid iff
///
///        e(-A, B) · e(α, β) · e(vk_x, γ) · e(C, δ') == 1,   vk_x = IC_0 + rho·IC[rho] + fY·IC[fY] + D_X + W_m
///
///      where D_X = Σ x_i·IC[x_i] (the buyer's fold, posted at funding) and W_m = Σ w_i·IC[w_i] + salt·IC[salt]
///      (the weights, posted at propose with a proof of knowledge of the opening that clients check off-chain;
///      without it W_m could absorb any phase-1 point and the check would prove nothing). The commitment bases
///      IC[x_i], IC[w_i], IC[salt] never come on-chain: `keyHash` binds them through `basesHash`, and the buyer
///      re-derives every constant of this contract from the pinned r1cs and ptau before funding.
///
///      Batch (`verifyBatch`): n proofs under one δ' with r_0 = 1 and r_i = uint128(keccak256(seed, i)) | 1,
///      `seed = keccak256(TRANSCRIPT_TAG ‖ keyHash ‖ δ' ‖ n ‖ proof_0 ‖ statement_0 ‖ …)`, checks
///
///        Π e(-r_i·A_i, B_i) · e((Σr_i)·α, β) · e(Σ r_i·vk_x_i, γ) · e(Σ r_i·C_i, δ') == 1
///
///      with `Σ r_i·vk_x_i = (Σr_i)·IC_0 + (Σ r_i·rho_i)·IC[rho] + (Σ r_i·fY_i)·IC[fY] + Σ r_i·(D_X_i + W_m_i)`:
///      n + 3 pairings, 3(n − 1) + 4 ecMul. If some proof is invalid, for fixed other coefficients at most one
///      value of its r_i makes the product 1 (G_T has prime order p); the r_i are a hash of every proof,
///      statement and δ', so a prover who wants a false batch to pass must find a hash preimage landing on
///      that value: probability about 2^-127 per hash evaluation.
///
///      Input checks: rho and fY below p (`ScalarNotInField`), every coordinate below q
///      (`CoordinateNotInField`), A, C, D_X, W_m on the curve (`PointNotOnCurve`, the point at infinity
///      (0, 0) accepted as by the precompiles); B and δ' are checked by ecPairing (a bad one makes the result
///      false).
contract LoraModuleVerifierV2 {
    /// @notice The BN254 scalar field modulus p.
    uint256 internal constant P =
        21888242871839275222246405745257275088548364400416034343698204186575808495617;
    /// @notice The BN254 base field modulus q.
    uint256 internal constant Q =
        21888242871839275222246405745257275088696311157297823662689037894645226208583;
    /// @notice bytes32("zklora.lora-module.v2"), the shape id's and key hash's variant.
    bytes32 public constant VARIANT = "zklora.lora-module.v2";
    /// @notice Domain separation of the batch seed.
    bytes32 public constant TRANSCRIPT_TAG = "zklora.v2.batch";

    /// @notice A Groth16 proof. `b` is a G2 point in EIP-197 order `[x_im, x_re, y_im, y_re]`.
    struct Proof {
        uint256[2] a;
        uint256[4] b;
        uint256[2] c;
    }

    /// @notice What the contract checks a proof against: the challenge, the fingerprint and the two commitments.
    struct Statement {
        uint256 rho;
        uint256 fY;
        uint256[2] dX;
        uint256[2] wM;
    }

    /// @notice The on-chain part of a shape key (see src/zk/v2/key.ts).
    struct ShapeKey {
        uint256 din;
        uint256 r;
        uint256 dout;
        bytes32 r1csSha256;
        bytes32 ptauSha256;
        uint256[2] alpha;
        uint256[4] beta;
        uint256[4] gamma;
        uint256[2] ic0;
        uint256[2] icRho;
        uint256[2] icFY;
        bytes32 basesHash;
    }

    /// @notice A key constant is not a valid point (index in the order alpha, beta, gamma, ic0, icRho, icFY;
    ///         6 means beta or gamma failed the pairing precompile's check).
    error InvalidShapeKey(uint256 index);
    /// @notice Statement `index` has a rho or fY not below p.
    error ScalarNotInField(uint256 index);
    /// @notice Proof or statement `index` has a coordinate not below q.
    error CoordinateNotInField(uint256 index);
    /// @notice Proof or statement `index` has a G1 point (A, C, D_X or W_m) off the curve.
    error PointNotOnCurve(uint256 index);
    /// @notice `verifyBatch` was called with no proofs.
    error EmptyBatch();
    /// @notice `verifyBatch` got `proofs` proofs but `statements` statements.
    error LengthMismatch(uint256 proofs, uint256 statements);
    /// @notice An ecAdd or ecMul call failed, which checked input cannot cause: the call ran out of gas.
    error PrecompileFailed();

    /// @notice The shape: LoRA A is DIN x R, B is R x DOUT.
    uint256 public immutable DIN;
    /// @notice The LoRA rank.
    uint256 public immutable R;
    /// @notice The module's output width.
    uint256 public immutable DOUT;
    /// @notice keccak256(abi.encode(VARIANT, DIN, R, DOUT)).
    bytes32 public immutable shapeId;
    /// @notice The hash binding this contract's constants, the r1cs, the ptau and the commitment bases.
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
    uint256 private immutable _ic0x;
    uint256 private immutable _ic0y;
    uint256 private immutable _irx;
    uint256 private immutable _iry;
    uint256 private immutable _ifx;
    uint256 private immutable _ify;

    /// @notice Creates the verifier of one shape key.
    /// @dev Checks every coordinate below q, the G1 constants on the curve and β, γ through one ecPairing call;
    ///      computes `keyHash = keccak256(abi.encode(VARIANT, DIN, R, DOUT, r1csSha256, ptauSha256, alpha, beta,
    ///      gamma, ic0, icRho, icFY, basesHash))`, the value `computeKeyHash` of src/zk/v2/key.ts gives.
    /// @param k The shape key's on-chain part.
    constructor(ShapeKey memory k) {
        uint256[2][4] memory g1s = [k.alpha, k.ic0, k.icRho, k.icFY];
        uint256[4] memory g1Index = [uint256(0), 3, 4, 5];
        for (uint256 i = 0; i < 4; ++i) {
            if (g1s[i][0] >= Q || g1s[i][1] >= Q || !_onCurve(g1s[i][0], g1s[i][1]))
                revert InvalidShapeKey(g1Index[i]);
        }
        for (uint256 j = 0; j < 4; ++j) {
            if (k.beta[j] >= Q) revert InvalidShapeKey(1);
            if (k.gamma[j] >= Q) revert InvalidShapeKey(2);
        }
        // e(α, β)·e(-α, β)·e(α, γ)·e(-α, γ) == 1 holds for any points in G2; ecPairing fails otherwise.
        uint256[24] memory chk = [
            k.alpha[0],
            k.alpha[1],
            k.beta[0],
            k.beta[1],
            k.beta[2],
            k.beta[3],
            k.alpha[0],
            (Q - k.alpha[1]) % Q,
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
            (Q - k.alpha[1]) % Q,
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
        if (!ok || out[0] != 1) revert InvalidShapeKey(6);
        DIN = k.din;
        R = k.r;
        DOUT = k.dout;
        shapeId = keccak256(abi.encode(VARIANT, k.din, k.r, k.dout));
        // The struct is all static fields, so this is abi.encode(VARIANT, din, r, dout, …, basesHash).
        keyHash = keccak256(abi.encode(VARIANT, k));
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
        _ic0x = k.ic0[0];
        _ic0y = k.ic0[1];
        _irx = k.icRho[0];
        _iry = k.icRho[1];
        _ifx = k.icFY[0];
        _ify = k.icFY[1];
    }

    /// @notice The on-chain constants, for clients to compare with their own derivation.
    /// @return alpha [α]₁.
    /// @return beta [β]₂ (EIP-197 order).
    /// @return gamma [γ]₂ (EIP-197 order).
    /// @return ic0 IC_0.
    /// @return icRho IC[rho].
    /// @return icFY IC[fY].
    function constants()
        external
        view
        returns (
            uint256[2] memory alpha,
            uint256[4] memory beta,
            uint256[4] memory gamma,
            uint256[2] memory ic0,
            uint256[2] memory icRho,
            uint256[2] memory icFY
        )
    {
        alpha = [_ax, _ay];
        beta = [_b0, _b1, _b2, _b3];
        gamma = [_g0, _g1, _g2, _g3];
        ic0 = [_ic0x, _ic0y];
        icRho = [_irx, _iry];
        icFY = [_ifx, _ify];
    }

    /// @notice Verifies one module proof under the deal's δ'.
    /// @dev Reverts on malformed input (see the contract's NatSpec); returns false when the pairing check fails
    ///      or δ' or B is not a point of G2. Gas: 2 ecMul, 4 ecAdd, 4 pairings (about 195k).
    /// @param proof The proof.
    /// @param st The statement.
    /// @param delta The deal key's [δ']₂ (EIP-197 order).
    /// @return True iff the proof verifies.
    function verify(
        Proof calldata proof,
        Statement calldata st,
        uint256[4] calldata delta
    ) external view returns (bool) {
        _checkProof(proof, 0);
        _checkStatement(st, 0);
        uint256[2] memory vkx = _vkx(st);
        uint256[24] memory inp;
        inp[0] = proof.a[0];
        inp[1] = proof.a[1] == 0 ? 0 : Q - proof.a[1];
        inp[2] = proof.b[0];
        inp[3] = proof.b[1];
        inp[4] = proof.b[2];
        inp[5] = proof.b[3];
        inp[6] = _ax;
        inp[7] = _ay;
        inp[8] = _b0;
        inp[9] = _b1;
        inp[10] = _b2;
        inp[11] = _b3;
        inp[12] = vkx[0];
        inp[13] = vkx[1];
        inp[14] = _g0;
        inp[15] = _g1;
        inp[16] = _g2;
        inp[17] = _g3;
        inp[18] = proof.c[0];
        inp[19] = proof.c[1];
        inp[20] = delta[0];
        inp[21] = delta[1];
        inp[22] = delta[2];
        inp[23] = delta[3];
        return _pairing(inp);
    }

    /// @notice Verifies n module proofs of this shape under one δ' with a random linear combination.
    /// @dev Reverts `EmptyBatch`, `LengthMismatch` or on the first malformed proof or statement; returns true
    ///      iff (except with probability about 2^-127) every proof verifies. Gas: n + 3 pairings and
    ///      3(n − 1) + 4 ecMul: about 53k per further proof plus call data.
    /// @param proofs The proofs.
    /// @param statements Their statements, in the same order.
    /// @param delta The deal key's [δ']₂ (EIP-197 order).
    /// @return True iff every proof verifies.
    function verifyBatch(
        Proof[] calldata proofs,
        Statement[] calldata statements,
        uint256[4] calldata delta
    ) external view returns (bool) {
        uint256 n = proofs.length;
        if (n == 0) revert EmptyBatch();
        if (statements.length != n) revert LengthMismatch(n, statements.length);
        for (uint256 i = 0; i < n; ++i) {
            _checkProof(proofs[i], i);
            _checkStatement(statements[i], i);
        }
        bytes32 seed = keccak256(abi.encode(TRANSCRIPT_TAG, keyHash, delta, n, proofs, statements));
        uint256[] memory inp = new uint256[](6 * (n + 3));
        BatchSums memory acc;
        for (uint256 i = 0; i < n; ++i) {
            uint256 r = i == 0 ? 1 : uint256(uint128(uint256(keccak256(abi.encode(seed, i))))) | 1;
            _accumulate(acc, inp, proofs[i], statements[i], i, r);
        }
        _closeBatch(acc, inp, n, delta);
        bool ok;
        uint256[1] memory out;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 8, add(inp, 32), mul(mload(inp), 32), out, 32)
        }
        return ok && out[0] == 1;
    }

    // ------------------------------------------------------------------ internals

    /// @dev Running sums of a batch: Σr_i, Σr_i·rho_i, Σr_i·fY_i (mod p), Σr_i·C_i, Σr_i·(D_X_i + W_m_i).
    struct BatchSums {
        uint256 r;
        uint256 rho;
        uint256 fY;
        uint256[2] c;
        uint256[2] v;
    }

    /// @dev Writes the pair (-r·A_i, B_i) at slot i of `inp` and adds proof i to the sums.
    function _accumulate(
        BatchSums memory acc,
        uint256[] memory inp,
        Proof calldata p,
        Statement calldata s,
        uint256 i,
        uint256 r
    ) private view {
        uint256[2] memory a = [p.a[0], p.a[1]];
        uint256[2] memory c = [p.c[0], p.c[1]];
        uint256[2] memory dw = _add([s.dX[0], s.dX[1]], [s.wM[0], s.wM[1]]);
        if (r != 1) {
            a = _mul(a, r);
            c = _mul(c, r);
            dw = _mul(dw, r);
        }
        uint256 o = 6 * i;
        inp[o] = a[0];
        inp[o + 1] = a[1] == 0 ? 0 : Q - a[1];
        inp[o + 2] = p.b[0];
        inp[o + 3] = p.b[1];
        inp[o + 4] = p.b[2];
        inp[o + 5] = p.b[3];
        acc.v = _add(acc.v, dw);
        acc.c = _add(acc.c, c);
        acc.r = addmod(acc.r, r, P);
        acc.rho = addmod(acc.rho, mulmod(r, s.rho, P), P);
        acc.fY = addmod(acc.fY, mulmod(r, s.fY, P), P);
    }

    /// @dev Writes the last three pairs: ((Σr)·α, β), (Σ r·vk_x, γ), (Σ r·C, δ').
    function _closeBatch(
        BatchSums memory acc,
        uint256[] memory inp,
        uint256 n,
        uint256[4] calldata delta
    ) private view {
        uint256[2] memory ra = _mul([_ax, _ay], acc.r);
        uint256[2] memory v = _add(acc.v, _mul([_ic0x, _ic0y], acc.r));
        v = _add(v, _mul([_irx, _iry], acc.rho));
        v = _add(v, _mul([_ifx, _ify], acc.fY));
        uint256 t = 6 * n;
        inp[t] = ra[0];
        inp[t + 1] = ra[1];
        inp[t + 2] = _b0;
        inp[t + 3] = _b1;
        inp[t + 4] = _b2;
        inp[t + 5] = _b3;
        inp[t + 6] = v[0];
        inp[t + 7] = v[1];
        inp[t + 8] = _g0;
        inp[t + 9] = _g1;
        inp[t + 10] = _g2;
        inp[t + 11] = _g3;
        inp[t + 12] = acc.c[0];
        inp[t + 13] = acc.c[1];
        inp[t + 14] = delta[0];
        inp[t + 15] = delta[1];
        inp[t + 16] = delta[2];
        inp[t + 17] = delta[3];
    }

    function _vkx(Statement calldata st) private view returns (uint256[2] memory v) {
        v = _add([_ic0x, _ic0y], _mul([_irx, _iry], st.rho));
        v = _add(v, _mul([_ifx, _ify], st.fY));
        v = _add(v, [st.dX[0], st.dX[1]]);
        v = _add(v, [st.wM[0], st.wM[1]]);
    }

    function _checkProof(Proof calldata p, uint256 index) private pure {
        if (p.a[0] >= Q || p.a[1] >= Q || p.c[0] >= Q || p.c[1] >= Q) revert CoordinateNotInField(index);
        for (uint256 j = 0; j < 4; ++j) if (p.b[j] >= Q) revert CoordinateNotInField(index);
        if (!_onCurve(p.a[0], p.a[1]) || !_onCurve(p.c[0], p.c[1])) revert PointNotOnCurve(index);
    }

    function _checkStatement(Statement calldata s, uint256 index) private pure {
        if (s.rho >= P || s.fY >= P) revert ScalarNotInField(index);
        if (s.dX[0] >= Q || s.dX[1] >= Q || s.wM[0] >= Q || s.wM[1] >= Q) revert CoordinateNotInField(index);
        if (!_onCurve(s.dX[0], s.dX[1]) || !_onCurve(s.wM[0], s.wM[1])) revert PointNotOnCurve(index);
    }

    /// @dev y^2 == x^3 + 3 mod q, or the point at infinity (0, 0). Coordinates already below q.
    function _onCurve(uint256 x, uint256 y) private pure returns (bool) {
        if (x == 0 && y == 0) return true;
        return mulmod(y, y, Q) == addmod(mulmod(mulmod(x, x, Q), x, Q), 3, Q);
    }

    function _add(uint256[2] memory p1, uint256[2] memory p2) private view returns (uint256[2] memory r) {
        uint256[4] memory inp = [p1[0], p1[1], p2[0], p2[1]];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 6, inp, 128, r, 64)
        }
        if (!ok) revert PrecompileFailed();
    }

    function _mul(uint256[2] memory p1, uint256 s) private view returns (uint256[2] memory r) {
        uint256[3] memory inp = [p1[0], p1[1], s];
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 7, inp, 96, r, 64)
        }
        if (!ok) revert PrecompileFailed();
    }

    function _pairing(uint256[24] memory inp) private view returns (bool) {
        bool ok;
        uint256[1] memory out;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 8, inp, 768, out, 32)
        }
        return ok && out[0] == 1;
    }
}
