pragma circom 2.1.0;

include "sponge.circom";
include "fingerprint.circom";

// LoraModule(T, DIN, R, DOUT): the statement of one module proof (PROTOCOL.md).
// Public inputs, in this order: C_m, hX, rho, fY.
// Private inputs: A[DIN][R], B[R][DOUT], salt, X[T][DIN].
// Checks: PoseidonSponge_1(A || B || salt) == C_m (A, B row-major),
//         PoseidonSponge_2(X) == hX (X row-major, all T rows),
//         fY == sum_{t,j} rho^(t*DOUT + j) * (X·A·B)[t][j].
template LoraModule(T, DIN, R, DOUT) {
    signal input C_m;
    signal input hX;
    signal input rho;
    signal input fY;

    signal input A[DIN][R];
    signal input B[R][DOUT];
    signal input salt;
    signal input X[T][DIN];

    var NW = DIN * R + R * DOUT + 1;
    component cw = PoseidonSponge(NW, 1);
    for (var i = 0; i < DIN; i++) {
        for (var k = 0; k < R; k++) {
            cw.in[i * R + k] <== A[i][k];
        }
    }
    for (var k = 0; k < R; k++) {
        for (var j = 0; j < DOUT; j++) {
            cw.in[DIN * R + k * DOUT + j] <== B[k][j];
        }
    }
    cw.in[NW - 1] <== salt;
    C_m === cw.out;

    component hx = PoseidonSponge(T * DIN, 2);
    for (var t = 0; t < T; t++) {
        for (var i = 0; i < DIN; i++) {
            hx.in[t * DIN + i] <== X[t][i];
        }
    }
    hX === hx.out;

    component fp = LoraFingerprint(T, DIN, R, DOUT);
    fp.A <== A;
    fp.B <== B;
    fp.X <== X;
    fp.rho <== rho;
    fY === fp.fY;
}
