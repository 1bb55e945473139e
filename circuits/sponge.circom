pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";

// PoseidonSponge(n, tag): the project's fixed sponge (ARCHITECTURE.md, "Sponge").
// circomlib's Poseidon permutation with state width 17 (capacity 1, rate 16).
// Initial state: state[0] = tag * 2^64 + n, state[1..16] = 0. Each block of 16 inputs (the last
// one zero-padded) is added to state[1..16] and the state is permuted. Output: state[0] after the
// last permutation. n must be at least 1.
template PoseidonSponge(n, tag) {
    assert(n >= 1);
    signal input in[n];
    signal output out;

    var RATE = 16;
    var nBlocks = (n + RATE - 1) \ RATE;
    component perm[nBlocks];

    for (var b = 0; b < nBlocks; b++) {
        perm[b] = PoseidonEx(RATE, RATE + 1);
        if (b == 0) {
            perm[b].initialState <== tag * 18446744073709551616 + n;
        } else {
            perm[b].initialState <== perm[b - 1].out[0];
        }
        for (var i = 0; i < RATE; i++) {
            var idx = b * RATE + i;
            if (b == 0) {
                if (idx < n) {
                    perm[b].inputs[i] <== in[idx];
                } else {
                    perm[b].inputs[i] <== 0;
                }
            } else {
                if (idx < n) {
                    perm[b].inputs[i] <== perm[b - 1].out[i + 1] + in[idx];
                } else {
                    perm[b].inputs[i] <== perm[b - 1].out[i + 1];
                }
            }
        }
    }
    out <== perm[nBlocks - 1].out[0];
}
