pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";

// DeliveryKeystream(n): n keystream elements of the delivery cipher under the key k
// (circuits/README.md, "Delivery cipher"). Counter mode over circomlib's width-17 Poseidon
// permutation: block b permutes the state [k, 3 * 2^64 + b, 0, ..., 0] and yields out[1..16];
// out[0] is never output (it keeps the permutation from being inverted back to k).
// Element i of the keystream is out[1 + (i % 16)] of block i \ 16.
template DeliveryKeystream(n) {
    assert(n >= 1);
    signal input k;
    signal output out[n];

    var RATE = 16;
    var nBlocks = (n + RATE - 1) \ RATE;
    component perm[nBlocks];

    for (var b = 0; b < nBlocks; b++) {
        perm[b] = PoseidonEx(RATE, RATE + 1);
        perm[b].initialState <== k;
        perm[b].inputs[0] <== 3 * 18446744073709551616 + b;
        for (var i = 1; i < RATE; i++) {
            perm[b].inputs[i] <== 0;
        }
        for (var i = 0; i < RATE; i++) {
            if (b * RATE + i < n) {
                out[b * RATE + i] <== perm[b].out[i + 1];
            }
        }
    }
}
