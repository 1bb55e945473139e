pragma circom 2.1.0;

include "../sponge.circom";
include "../powers.circom";
include "../mat_vec.circom";
include "link.circom";
include "pow_const.circom";

// LoraChunkA(T, WA, R, DOUT): one A chunk of the chunked variant (circuits/README.md, "Chunked
// module proofs"): WA consecutive rows of A (columns c·WA .. c·WA+WA-1 of X).
// Public inputs, in this order: hA, hX, rho, Lin, Lout.
// Private inputs: A[WA][R], saltA, X[T][WA], uIn[R], blindIn, blindOut.
// Checks: hA == PoseidonSponge_4(A row-major || saltA),
//         hX == PoseidonSponge_5(X column-major: for i < WA, for t < T: X[t][i]),
//         Lin == ChunkLink(uIn, 1, blindIn),
//         Lout == ChunkLink(uOut, 1, blindOut) with uOut[k] = uIn[k] + sum_i xr[i]·A[i][k],
//         xr[i] = sum_t (rho^DOUT)^t · X[t][i].
template LoraChunkA(T, WA, R, DOUT) {
    signal input hA;
    signal input hX;
    signal input rho;
    signal input Lin;
    signal input Lout;

    signal input A[WA][R];
    signal input saltA;
    signal input X[T][WA];
    signal input uIn[R];
    signal input blindIn;
    signal input blindOut;

    component ha = PoseidonSponge(WA * R + 1, 4);
    for (var i = 0; i < WA; i++) {
        for (var k = 0; k < R; k++) {
            ha.in[i * R + k] <== A[i][k];
        }
    }
    ha.in[WA * R] <== saltA;
    hA === ha.out;

    component hx = PoseidonSponge(T * WA, 5);
    for (var i = 0; i < WA; i++) {
        for (var t = 0; t < T; t++) {
            hx.in[i * T + t] <== X[t][i];
        }
    }
    hX === hx.out;

    component lin = ChunkLink(R);
    lin.u <== uIn;
    lin.pw <== 1;
    lin.blind <== blindIn;
    Lin === lin.out;

    component rhoD = PowConst(DOUT);
    rhoD.x <== rho;
    component rowPw = Powers(T);
    rowPw.x <== rhoD.out;

    // xr[i] = sum_t rowPw[t] · X[t][i]
    component xr = MatVec(WA, T);
    for (var i = 0; i < WA; i++) {
        for (var t = 0; t < T; t++) {
            xr.mat[i][t] <== X[t][i];
        }
    }
    xr.vec <== rowPw.out;

    // ua[k] = sum_i A[i][k] · xr[i]
    component ua = MatVec(R, WA);
    for (var k = 0; k < R; k++) {
        for (var i = 0; i < WA; i++) {
            ua.mat[k][i] <== A[i][k];
        }
    }
    ua.vec <== xr.out;

    component lout = ChunkLink(R);
    for (var k = 0; k < R; k++) {
        lout.u[k] <== uIn[k] + ua.out[k];
    }
    lout.pw <== 1;
    lout.blind <== blindOut;
    Lout === lout.out;
}
