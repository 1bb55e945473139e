pragma circom 2.1.5;

// zk-kit's Poseidon cipher (PoseidonDecrypt, PoseidonPerm); it includes circomlib's
// comparators.circom, which brings bitify.circom (Num2Bits). Compile with both
// node_modules/circomlib/circuits and node_modules/@zk-kit/circuits/circom as include dirs.
include "poseidon-cipher.circom";

// DeliveryChunkV2(CAP, BITS): one chunk of the weight-delivery statement of protocol v2
// (PROTOCOL.md, "Weights delivered with the payment").
//
// Public inputs, in this order: hK, nonce, ct[NCT], w[CAP], salt. Private: k.
// The verifier never sees w or salt one by one: they enter vk_x through the commitment
// W'_c = Σ w_i·IC'[w_i] + salt·IC'[salt] (salt takes part in no constraint: snarkjs's one row per
// public input makes IC'[salt] a nonzero point). hK, nonce and ct enter vk_x one by one.
//
// The statement, for the private key k:
// - hK = Poseidon([k]) (poseidon-lite's poseidon1; circomlib's Poseidon(1) computes the same but
//   its templates clash by name with the ones zk-kit's cipher includes, so the hash is the first
//   output of zk-kit's PoseidonPerm(2) on [0, k], which is exactly poseidon1's sponge);
// - every weight is a signed BITS-bit integer: w_i + 2^(BITS-1) ∈ [0, 2^BITS) (Num2Bits);
// - the offset weights are packed PACK = floor(252 / BITS) to a field element, little end first:
//   packed[j] = Σ_t (w[j·PACK + t] + 2^(BITS-1))·2^(BITS·t), NP = ceil(CAP / PACK) elements,
//   padded with zero elements to NPAD, a multiple of 3 (PACK·BITS ≤ 252 < log2 p: no wrap-around);
// - ct (NCT = NPAD + 1 elements) is the Poseidon-cipher encryption of packed[0..NPAD) under the
//   key [k, 0] and the public nonce (zk-kit's PoseidonDecrypt, authentication tag included).
template DeliveryChunkV2(CAP, BITS) {
    assert(CAP >= 1);
    assert(BITS >= 2);
    assert(BITS <= 126);
    var PACK = 252 \ BITS;
    var NP = (CAP + PACK - 1) \ PACK;
    var NPAD = NP;
    while (NPAD % 3 != 0) {
        NPAD++;
    }
    var OFFSET = 2 ** (BITS - 1);

    signal input hK;
    signal input nonce;
    signal input ct[NPAD + 1];
    signal input w[CAP];
    signal input salt;
    signal input k;

    // hK = Poseidon([k])
    component h = PoseidonPerm(2);
    h.inputs[0] <== 0;
    h.inputs[1] <== k;
    hK === h.out[0];

    // range checks and packing (linear in w)
    component range[CAP];
    var packed[NPAD];
    for (var j = 0; j < NPAD; j++) {
        packed[j] = 0;
    }
    for (var i = 0; i < CAP; i++) {
        range[i] = Num2Bits(BITS);
        range[i].in <== w[i] + OFFSET;
        packed[i \ PACK] += (w[i] + OFFSET) * 2 ** (BITS * (i % PACK));
    }

    // ct decrypts under [k, 0] and nonce to the packed weights (and its tag checks)
    component dec = PoseidonDecrypt(NPAD);
    dec.nonce <== nonce;
    dec.key[0] <== k;
    dec.key[1] <== 0;
    for (var j = 0; j < NPAD + 1; j++) {
        dec.ciphertext[j] <== ct[j];
    }
    for (var j = 0; j < NPAD; j++) {
        dec.decrypted[j] === packed[j];
    }
}
