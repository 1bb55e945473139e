pragma circom 2.1.0;

include "babyjub.circom";
include "escalarmulfix.circom";
include "escalarmulany.circom";
include "poseidon.circom";
include "comparators.circom";
include "bitify.circom";

// KeyWrapV2(SLOTS): the key-wrap statement of protocol v2 (PROTOCOL.md, "Weights delivered with
// the payment", "Per deal"). The contributor posts E = e·Base8 and, per delivered module m,
// R_m = k_m + Poseidon5(TAG, S.x, S.y, dealId, m) with S = e·pk (pk: the buyer's Baby Jubjub key
// named at funding); this proves that every used slot wraps the preimage of the hK_m stored at
// propose, for this buyer and this deal. Only the holder of sk (pk = sk·Base8) recomputes
// S = sk·E and unwraps k_m = R_m − Poseidon5(...).
//
// Public inputs, in this order: pk[2], E[2], dealId, base, count, hK[SLOTS], R[SLOTS].
// Private: e, k[SLOTS].
// Slot i (0 ≤ i < SLOTS) is module m_i = base + i; it is used iff i < count (count ≤ SLOTS).
// Constraints:
// - pk is on the curve (BabyCheck); its subgroup membership is checked off-circuit at funding
//   (circomlib's EscalarMulAny assumes a point of the prime-order subgroup);
// - e < 2^251 (Num2Bits(251); clients draw e in [1, subOrder), subOrder < 2^251);
// - E == e·Base8 (EscalarMulFix, as BabyPbk does), S = e·pk (EscalarMulAny);
// - count ≤ SLOTS; en_i = (i < count);
// - en_i·(Poseidon1(k_i) − hK_i) == 0, en_i·(k_i + pad_i − R_i) == 0 with
//   pad_i = Poseidon5(TAG, S.x, S.y, dealId, base + i);
// - (1 − en_i)·R_i == 0 and (1 − en_i)·hK_i == 0: unused slots are zero.
// TAG = the ASCII of "zklora/v2/wrap" as a big-endian integer (src/zk/wrap/pad.ts, WRAP_TAG).

// The number of bits b with 2^b > n.
function wrapBits(n) {
    var b = 1;
    while ((1 << b) <= n) {
        b++;
    }
    return b;
}

template KeyWrapV2(SLOTS) {
    signal input pk[2];
    signal input E[2];
    signal input dealId;
    signal input base;
    signal input count;
    signal input hK[SLOTS];
    signal input R[SLOTS];
    signal input e;
    signal input k[SLOTS];

    var TAG = 2482964944146499291533770392494448;
    var BASE8[2] = [
        5299619240641551281634865583518297030282874472190772894086521144482721001553,
        16950150798460657717958625567821834550301663161624707787222815936182638968203
    ];
    var NB = wrapBits(SLOTS);

    // pk on the curve.
    component pkCheck = BabyCheck();
    pkCheck.x <== pk[0];
    pkCheck.y <== pk[1];

    // e < 2^251, E = e·Base8, S = e·pk.
    component eBits = Num2Bits(251);
    eBits.in <== e;
    component eMul = EscalarMulFix(251, BASE8);
    component sMul = EscalarMulAny(251);
    for (var i = 0; i < 251; i++) {
        eMul.e[i] <== eBits.out[i];
        sMul.e[i] <== eBits.out[i];
    }
    eMul.out[0] === E[0];
    eMul.out[1] === E[1];
    sMul.p[0] <== pk[0];
    sMul.p[1] <== pk[1];

    // count ≤ SLOTS.
    component countBits = Num2Bits(NB);
    countBits.in <== count;
    component countMax = LessThan(NB);
    countMax.in[0] <== count;
    countMax.in[1] <== SLOTS + 1;
    countMax.out === 1;

    component en[SLOTS];
    component hash[SLOTS];
    component pad[SLOTS];
    for (var i = 0; i < SLOTS; i++) {
        en[i] = LessThan(NB);
        en[i].in[0] <== i;
        en[i].in[1] <== count;

        hash[i] = Poseidon(1);
        hash[i].inputs[0] <== k[i];

        pad[i] = Poseidon(5);
        pad[i].inputs[0] <== TAG;
        pad[i].inputs[1] <== sMul.out[0];
        pad[i].inputs[2] <== sMul.out[1];
        pad[i].inputs[3] <== dealId;
        pad[i].inputs[4] <== base + i;

        en[i].out * (hash[i].out - hK[i]) === 0;
        en[i].out * (k[i] + pad[i].out - R[i]) === 0;
        (1 - en[i].out) * R[i] === 0;
        (1 - en[i].out) * hK[i] === 0;
    }
}
