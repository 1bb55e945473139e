pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "../sponge.circom";
include "keystream.circom";

// LoraDelivery(DIN, R, DOUT): the statement of one delivery proof (circuits/README.md, "Delivery").
// Public inputs, in this order: C_m, hK, hC.
// Private inputs: A[DIN][R], B[R][DOUT], salt, k.
// With w = A || B || salt (A, B row-major; n = DIN*R + R*DOUT + 1 elements) and ks the keystream
// of k (DeliveryKeystream), the ciphertext is c[i] = w[i] + ks[i] (mod p). Checks:
//   PoseidonSponge_1(w) == C_m   (the module's weight commitment),
//   Poseidon([k]) == hK          (circomlib's Poseidon with t = 2, as the escrow computes it),
//   PoseidonSponge_3(c) == hC    (the published ciphertext).
template LoraDelivery(DIN, R, DOUT) {
    signal input C_m;
    signal input hK;
    signal input hC;

    signal input A[DIN][R];
    signal input B[R][DOUT];
    signal input salt;
    signal input k;

    var NW = DIN * R + R * DOUT + 1;
    signal w[NW];
    for (var i = 0; i < DIN; i++) {
        for (var r = 0; r < R; r++) {
            w[i * R + r] <== A[i][r];
        }
    }
    for (var r = 0; r < R; r++) {
        for (var j = 0; j < DOUT; j++) {
            w[DIN * R + r * DOUT + j] <== B[r][j];
        }
    }
    w[NW - 1] <== salt;

    component cw = PoseidonSponge(NW, 1);
    cw.in <== w;
    C_m === cw.out;

    component kh = Poseidon(1);
    kh.inputs[0] <== k;
    hK === kh.out;

    component ks = DeliveryKeystream(NW);
    ks.k <== k;
    component cc = PoseidonSponge(NW, 3);
    for (var i = 0; i < NW; i++) {
        cc.in[i] <== w[i] + ks.out[i];
    }
    hC === cc.out;
}
