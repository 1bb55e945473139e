pragma circom 2.1.0;

include "powers.circom";
include "mat_vec.circom";

// LoraFingerprint(T, DIN, R, DOUT): fY = sum_{t<T, j<DOUT} rho^(t*DOUT + j) * Y[t][j] for
// Y = X·A·B, computed without materialising Y:
//   pw[j] = rho^j (j < DOUT), rhoD = rho^DOUT,
//   b[k] = sum_j pw[j] * B[k][j], a[i] = sum_k A[i][k] * b[k], c[t] = sum_i X[t][i] * a[i],
//   fY = sum_t rhoD^t * c[t].
// About R*DOUT + DIN*R + T*DIN + DOUT + 2T constraints.
template LoraFingerprint(T, DIN, R, DOUT) {
    signal input A[DIN][R];
    signal input B[R][DOUT];
    signal input X[T][DIN];
    signal input rho;
    signal output fY;

    component pw = Powers(DOUT + 1);
    pw.x <== rho;

    component rowPw = Powers(T);
    rowPw.x <== pw.out[DOUT];

    component b = MatVec(R, DOUT);
    for (var k = 0; k < R; k++) {
        for (var j = 0; j < DOUT; j++) {
            b.mat[k][j] <== B[k][j];
        }
    }
    for (var j = 0; j < DOUT; j++) {
        b.vec[j] <== pw.out[j];
    }

    component a = MatVec(DIN, R);
    a.mat <== A;
    a.vec <== b.out;

    component c = MatVec(T, DIN);
    c.mat <== X;
    c.vec <== a.out;

    component f = MatVec(1, T);
    f.mat[0] <== rowPw.out;
    f.vec <== c.out;

    fY <== f.out[0];
}
