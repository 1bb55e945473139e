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
///      `seed = keccak256(TRANSCRIPT_TAG ‖ keyHash ‖ msg.data)` (the call data holds δ', n and every proof and
///      statement the contract reads), checks
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
    ///      or δ' or B is not a point of G2. Gas: 2 ecMul, 4 ecAdd, 4 pairings (193.6k) and about 6k more.
    /// @param proof The proof.
    /// @param st The statement.
    /// @param delta The deal key's [δ']₂ (EIP-197 order).
    /// @return True iff the proof verifies.
    function verify(
        Proof calldata proof,
        Statement calldata st,
        uint256[4] calldata delta
    ) external view returns (bool) {
        _checkInput(proof, st, 0);
        uint256 m = _freeMemory();
        _allocate(m + 928);
        // vk_x at m: (D_X + W_m) + rho·IC[rho] + fY·IC[fY] + IC_0; m + 64 .. m + 160 is the operand.
        assembly ("memory-safe") {
            calldatacopy(m, add(st, 64), 128)
        }
        _ecAdd(m);
        _put3(m + 64, _irx, _iry, st.rho);
        _ecMul(m + 64);
        _ecAdd(m);
        _put3(m + 64, _ifx, _ify, st.fY);
        _ecMul(m + 64);
        _ecAdd(m);
        _put3(m + 64, _ic0x, _ic0y, 0);
        _ecAdd(m);
        // The four pairs at p: (-A, B), (α, β), (vk_x, γ), (C, δ').
        uint256 p = m + 160;
        assembly ("memory-safe") {
            calldatacopy(p, proof, 64)
            let ay := mload(add(p, 32))
            if ay {
                mstore(add(p, 32), sub(Q, ay))
            }
            calldatacopy(add(p, 64), add(proof, 64), 128)
            mstore(add(p, 384), mload(m))
            mstore(add(p, 416), mload(add(m, 32)))
            calldatacopy(add(p, 576), add(proof, 192), 64)
            calldatacopy(add(p, 640), delta, 128)
        }
        _putAlphaBeta(p + 192);
        _putG2(p + 448, _g0, _g1, _g2, _g3);
        return _pairing(p, 4);
    }

    /// @notice Verifies n module proofs of this shape under one δ' with a random linear combination.
    /// @dev Reverts `EmptyBatch`, `LengthMismatch` or on the first malformed proof or statement; returns true
    ///      iff (except with probability about 2^-127) every proof verifies. Gas: n + 3 pairings, 3(n − 1) + 4
    ///      ecMul and 3n + 3 ecAdd: about 56k per further proof plus its call data.
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
        uint256 m = _freeMemory();
        // Pairs 0..n-1 at m (6 words each: -r_i·A_i, B_i), then the three closing pairs. After them at `acc`:
        // Σ r_i, Σ r_i·rho_i, Σ r_i·fY_i (mod p); Σ r_i·C_i at acc + 96 (and a 3-word operand);
        // Σ r_i·(D_X_i + W_m_i) at acc + 256 (and a 4-word operand).
        uint256 acc = m + 192 * (n + 3);
        uint256 end = m + 64 + msg.data.length;
        _allocate(acc + 448 > end ? acc + 448 : end);
        bytes32 seed = _seed(m);
        for (uint256 i = 0; i < n; ++i) _addProof(seed, i, proofs[i], statements[i], m + 192 * i, acc);
        _closeBatch(m + 192 * n, acc, delta);
        return _pairing(m, n + 3);
    }

    // ------------------------------------------------------------------ internals

    /// @dev The batch seed: keccak256(TRANSCRIPT_TAG ‖ keyHash ‖ msg.data), hashed in memory at `m`. The call data
    ///      holds δ', n and every proof and statement the verifier reads, so the coefficients depend on all of them.
    function _seed(uint256 m) private view returns (bytes32 seed) {
        bytes32 kh = keyHash;
        assembly ("memory-safe") {
            mstore(m, TRANSCRIPT_TAG)
            mstore(add(m, 32), kh)
            calldatacopy(add(m, 64), 0, calldatasize())
            seed := keccak256(m, add(64, calldatasize()))
        }
    }

    /// @dev Checks proof and statement `i` of a batch, writes the pair (-r_i·A_i, B_i) at `o` and adds proof i to
    ///      the sums at `acc` (see `verifyBatch`), with r_0 = 1 and r_i = uint128(keccak256(abi.encode(seed, i))) | 1.
    function _addProof(
        bytes32 seed,
        uint256 i,
        Proof calldata pf,
        Statement calldata st,
        uint256 o,
        uint256 acc
    ) private view {
        _checkInput(pf, st, i);
        bytes4 failed = PrecompileFailed.selector;
        assembly ("memory-safe") {
            let p := P
            let r := 1
            let ok := 1
            calldatacopy(o, pf, 64)
            if i {
                mstore(0, seed)
                mstore(32, i)
                r := or(and(keccak256(0, 64), 0xffffffffffffffffffffffffffffffff), 1)
                mstore(add(o, 64), r)
                ok := staticcall(gas(), 7, o, 96, o, 64)
            }
            let ay := mload(add(o, 32))
            if ay {
                mstore(add(o, 32), sub(Q, ay))
            }
            calldatacopy(add(o, 64), add(pf, 64), 128)
            let c := add(acc, 96)
            let v := add(acc, 256)
            switch i
            case 0 {
                mstore(acc, 1)
                mstore(add(acc, 32), calldataload(st))
                mstore(add(acc, 64), calldataload(add(st, 32)))
                calldatacopy(c, add(pf, 192), 64)
                calldatacopy(v, add(st, 64), 128)
                ok := staticcall(gas(), 6, v, 128, v, 64)
            }
            default {
                mstore(acc, addmod(mload(acc), r, p))
                mstore(add(acc, 32), addmod(mload(add(acc, 32)), mulmod(r, calldataload(st), p), p))
                mstore(add(acc, 64), addmod(mload(add(acc, 64)), mulmod(r, calldataload(add(st, 32)), p), p))
                calldatacopy(add(c, 64), add(pf, 192), 64)
                mstore(add(c, 128), r)
                ok := and(ok, staticcall(gas(), 7, add(c, 64), 96, add(c, 64), 64))
                ok := and(ok, staticcall(gas(), 6, c, 128, c, 64))
                calldatacopy(add(v, 64), add(st, 64), 128)
                ok := and(ok, staticcall(gas(), 6, add(v, 64), 128, add(v, 64), 64))
                mstore(add(v, 128), r)
                ok := and(ok, staticcall(gas(), 7, add(v, 64), 96, add(v, 64), 64))
                ok := and(ok, staticcall(gas(), 6, v, 128, v, 64))
            }
            if iszero(ok) {
                mstore(0, failed)
                revert(0, 4)
            }
        }
    }

    /// @dev Writes the last three pairs at `t`: ((Σr)·α, β), (Σ r·vk_x, γ), (Σ r·C, δ'), with
    ///      Σ r·vk_x = Σ r·(D_X + W_m) + (Σr)·IC_0 + (Σ r·rho)·IC[rho] + (Σ r·fY)·IC[fY].
    function _closeBatch(uint256 t, uint256 acc, uint256[4] calldata delta) private view {
        uint256 sr;
        uint256 srho;
        uint256 sfy;
        assembly ("memory-safe") {
            sr := mload(acc)
            srho := mload(add(acc, 32))
            sfy := mload(add(acc, 64))
        }
        uint256 v = acc + 256;
        _put3(t, _ax, _ay, sr);
        if (sr != 1) _ecMul(t);
        _putG2(t + 64, _b0, _b1, _b2, _b3);
        _put3(v + 64, _ic0x, _ic0y, sr);
        if (sr != 1) _ecMul(v + 64);
        _ecAdd(v);
        _put3(v + 64, _irx, _iry, srho);
        _ecMul(v + 64);
        _ecAdd(v);
        _put3(v + 64, _ifx, _ify, sfy);
        _ecMul(v + 64);
        _ecAdd(v);
        _putG2(t + 256, _g0, _g1, _g2, _g3);
        assembly ("memory-safe") {
            mstore(add(t, 192), mload(v))
            mstore(add(t, 224), mload(add(v, 32)))
            mstore(add(t, 384), mload(add(acc, 96)))
            mstore(add(t, 416), mload(add(acc, 128)))
            calldatacopy(add(t, 448), delta, 128)
        }
    }

    /// @dev The input checks of proof and statement `index`, in this order: the proof's coordinates below q
    ///      (`CoordinateNotInField`), A and C on the curve (`PointNotOnCurve`), rho and fY below p
    ///      (`ScalarNotInField`), D_X's and W_m's coordinates below q, D_X and W_m on the curve.
    function _checkInput(Proof calldata p, Statement calldata s, uint256 index) private pure {
        bytes4 coordinate = CoordinateNotInField.selector;
        bytes4 curve = PointNotOnCurve.selector;
        bytes4 scalar = ScalarNotInField.selector;
        assembly ("memory-safe") {
            function fail(selector, i) {
                mstore(0, selector)
                mstore(4, i)
                revert(0, 36)
            }
            // y^2 == x^3 + 3 mod q, or the point at infinity (0, 0); coordinates already below q.
            function onCurve(at, q) -> ok {
                let x := calldataload(at)
                let y := calldataload(add(at, 32))
                ok := or(iszero(or(x, y)), eq(mulmod(y, y, q), addmod(mulmod(mulmod(x, x, q), x, q), 3, q)))
            }
            let q := Q
            let bad := or(
                or(
                    or(iszero(lt(calldataload(p), q)), iszero(lt(calldataload(add(p, 32)), q))),
                    or(iszero(lt(calldataload(add(p, 64)), q)), iszero(lt(calldataload(add(p, 96)), q)))
                ),
                or(
                    or(iszero(lt(calldataload(add(p, 128)), q)), iszero(lt(calldataload(add(p, 160)), q))),
                    or(iszero(lt(calldataload(add(p, 192)), q)), iszero(lt(calldataload(add(p, 224)), q)))
                )
            )
            if bad {
                fail(coordinate, index)
            }
            if iszero(and(onCurve(p, q), onCurve(add(p, 192), q))) {
                fail(curve, index)
            }
            let r := P
            if iszero(and(lt(calldataload(s), r), lt(calldataload(add(s, 32)), r))) {
                fail(scalar, index)
            }
            bad := or(
                or(iszero(lt(calldataload(add(s, 64)), q)), iszero(lt(calldataload(add(s, 96)), q))),
                or(iszero(lt(calldataload(add(s, 128)), q)), iszero(lt(calldataload(add(s, 160)), q)))
            )
            if bad {
                fail(coordinate, index)
            }
            if iszero(and(onCurve(add(s, 64), q), onCurve(add(s, 128), q))) {
                fail(curve, index)
            }
        }
    }

    /// @dev y^2 == x^3 + 3 mod q, or the point at infinity (0, 0). Coordinates already below q.
    function _onCurve(uint256 x, uint256 y) private pure returns (bool) {
        if (x == 0 && y == 0) return true;
        return mulmod(y, y, Q) == addmod(mulmod(mulmod(x, x, Q), x, Q), 3, Q);
    }

    /// @dev The free memory pointer: where the caller's scratch starts (reserved with `_allocate`).
    function _freeMemory() private pure returns (uint256 m) {
        assembly ("memory-safe") {
            m := mload(0x40)
        }
    }

    function _put3(uint256 at, uint256 a, uint256 b, uint256 c) private pure {
        assembly ("memory-safe") {
            mstore(at, a)
            mstore(add(at, 32), b)
            mstore(add(at, 64), c)
        }
    }

    /// @dev Writes [α]₁ at `at` and [β]₂ at `at + 64`.
    function _putAlphaBeta(uint256 at) private view {
        _put3(at, _ax, _ay, _b0);
        _put3(at + 96, _b1, _b2, _b3);
    }

    /// @dev Writes the G2 point (a, b, c, d) (EIP-197 order) at `at`.
    function _putG2(uint256 at, uint256 a, uint256 b, uint256 c, uint256 d) private pure {
        _put3(at, a, b, c);
        assembly ("memory-safe") {
            mstore(add(at, 96), d)
        }
    }

    /// @dev Moves the free memory pointer to `end` (the scratch the caller uses from `_freeMemory()` on).
    function _allocate(uint256 end) private pure {
        assembly ("memory-safe") {
            mstore(0x40, end)
        }
    }

    /// @dev ecAdd in place: the G1 points at `at` and `at + 64`, the sum written at `at`.
    function _ecAdd(uint256 at) private view {
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 6, at, 128, at, 64)
        }
        if (!ok) revert PrecompileFailed();
    }

    /// @dev ecMul in place: the G1 point at `at` times the scalar at `at + 64`, written at `at`.
    function _ecMul(uint256 at) private view {
        bool ok;
        assembly ("memory-safe") {
            ok := staticcall(gas(), 7, at, 96, at, 64)
        }
        if (!ok) revert PrecompileFailed();
    }

    /// @dev ecPairing of `pairs` pairs at `at`: true iff the call succeeds and the product is 1.
    function _pairing(uint256 at, uint256 pairs) private view returns (bool) {
        bool ok;
        uint256 out;
        assembly ("memory-safe") {
            mstore(0, 0)
            ok := staticcall(gas(), 8, at, mul(pairs, 192), 0, 32)
            out := mload(0)
        }
        return ok && out == 1;
    }
}
