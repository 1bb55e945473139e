pragma circom 2.1.0;

// Powers(n): out[i] = x^i for i < n (out[0] = 1). n - 2 constraints.
template Powers(n) {
    assert(n >= 1);
    signal input x;
    signal output out[n];

    out[0] <== 1;
    if (n > 1) {
        out[1] <== x;
    }
    for (var i = 2; i < n; i++) {
        out[i] <== out[i - 1] * x;
    }
}
