pragma circom 2.1.0;

// PowConst(e): out = x^e for a compile-time constant e >= 1, by square-and-multiply over e's bits
// from the most significant one: (bits(e) - 1) squarings + (popcount(e) - 1) multiplications.
template PowConst(e) {
    assert(e >= 1);
    signal input x;
    signal output out;

    var nBits = 0;
    var rest = e;
    while (rest > 0) {
        nBits++;
        rest = rest \ 2;
    }
    // acc[b] = x^(e >> (nBits - 1 - b)); sq[b] = acc[b - 1]^2 (sq[0] = x, linear).
    signal sq[nBits];
    signal acc[nBits];
    sq[0] <== x;
    acc[0] <== x;
    for (var b = 1; b < nBits; b++) {
        sq[b] <== acc[b - 1] * acc[b - 1];
        if (((e >> (nBits - 1 - b)) & 1) == 1) {
            acc[b] <== sq[b] * x;
        } else {
            acc[b] <== sq[b];
        }
    }
    out <== acc[nBits - 1];
}
