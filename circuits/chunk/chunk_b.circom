pragma circom 2.1.0;

include "../sponge.circom";
include "../mat_vec.circom";
include "link.circom";

// LoraChunkB(R, WB): one B chunk of the chunked variant (circuits/README.md, "Chunked module
// proofs"): columns d·WB .. d·WB+WB-1 of B.
// Public inputs, in this order: hB, rho, Lin, Lout, fIn, fOut.
// Private inputs: B[R][WB], saltB, u[R], pIn, blindIn, blindOut.
// Checks: hB == PoseidonSponge_4(B row-major within the chunk || saltB),
//         Lin == ChunkLink(u, pIn, blindIn),
//         fOut == fIn + sum_k u[k] · sum_j pw[j]·B[k][j] with pw[j] = pIn·rho^j (j < WB),
//         Lout == ChunkLink(u, pIn·rho^WB, blindOut).
template LoraChunkB(R, WB) {
    signal input hB;
    signal input rho;
    signal input Lin;
    signal input Lout;
    signal input fIn;
    signal input fOut;

    signal input B[R][WB];
    signal input saltB;
    signal input u[R];
    signal input pIn;
    signal input blindIn;
    signal input blindOut;

    component hb = PoseidonSponge(R * WB + 1, 4);
    for (var k = 0; k < R; k++) {
        for (var j = 0; j < WB; j++) {
            hb.in[k * WB + j] <== B[k][j];
        }
    }
    hb.in[R * WB] <== saltB;
    hB === hb.out;

    component lin = ChunkLink(R);
    lin.u <== u;
    lin.pw <== pIn;
    lin.blind <== blindIn;
    Lin === lin.out;

    // pw[j] = pIn · rho^j for j <= WB
    signal pw[WB + 1];
    pw[0] <== pIn;
    for (var j = 1; j <= WB; j++) {
        pw[j] <== pw[j - 1] * rho;
    }

    // bk[k] = sum_j B[k][j] · pw[j]
    component bk = MatVec(R, WB);
    bk.mat <== B;
    for (var j = 0; j < WB; j++) {
        bk.vec[j] <== pw[j];
    }

    component f = MatVec(1, R);
    f.mat[0] <== u;
    f.vec <== bk.out;
    fOut === fIn + f.out[0];

    component lout = ChunkLink(R);
    lout.u <== u;
    lout.pw <== pw[WB];
    lout.blind <== blindOut;
    Lout === lout.out;
}
