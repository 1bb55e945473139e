pragma circom 2.1.0;

include "../powers.circom";

// LoraModuleV2(DIN, R, DOUT): the module statement of protocol v2 (PROTOCOL.md, "The circuit per
// shape"). Every input is public; the verifier never sees x, w or salt one by one: they enter
// vk_x through the commitments D_X = Σ x_i·IC[x_i] and W_m = Σ w_i·IC[w_i] + salt·IC[salt].
// Public inputs, in this order: rho, fY, x[DIN], w[N], salt, with N = R·(DIN + DOUT) and
// w = A (DIN x R, row-major) || B (R x DOUT, row-major).
// Constraints: s_j = rho^j (j < DOUT), b_k = Σ_j B[k][j]·s_j, u_k = Σ_i x[i]·A[i][k],
// fY == Σ_k u_k·b_k (= x·A·B·s, PROTOCOL.md's a_i = Σ_k A[i][k]·b_k reassociated: DIN − R fewer
// constraints). R·(DOUT − 1) + DIN·R + R + DOUT − 2 = N + DOUT − 2 constraints. No hashing. salt takes part in no constraint of its own: snarkjs adds one
// constraint row per public input, which is what makes IC[salt] a nonzero point (tested).
template LoraModuleV2(DIN, R, DOUT) {
    signal input rho;
    signal input fY;
    signal input x[DIN];
    signal input w[DIN * R + R * DOUT];
    signal input salt;

    component s = Powers(DOUT);
    s.x <== rho;

    // b = B·s
    signal pb[R][DOUT];
    signal b[R];
    for (var k = 0; k < R; k++) {
        var acc = 0;
        for (var j = 0; j < DOUT; j++) {
            pb[k][j] <== w[DIN * R + k * DOUT + j] * s.out[j];
            acc += pb[k][j];
        }
        b[k] <== acc;
    }

    // u = x·A (row vector), then fY = u·b: DIN·R + R products instead of DIN·R + DIN.
    signal pu[DIN][R];
    signal u[R];
    for (var k = 0; k < R; k++) {
        var acc = 0;
        for (var i = 0; i < DIN; i++) {
            pu[i][k] <== x[i] * w[i * R + k];
            acc += pu[i][k];
        }
        u[k] <== acc;
    }

    signal pf[R];
    var acc = 0;
    for (var k = 0; k < R; k++) {
        pf[k] <== u[k] * b[k];
        acc += pf[k];
    }
    fY === acc;
}
