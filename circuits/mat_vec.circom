pragma circom 2.1.0;

// MatVec(N, M): out[i] = sum_j mat[i][j] * vec[j]. N * M constraints.
template MatVec(N, M) {
    signal input mat[N][M];
    signal input vec[M];
    signal output out[N];

    signal prod[N][M];
    for (var i = 0; i < N; i++) {
        var acc = 0;
        for (var j = 0; j < M; j++) {
            prod[i][j] <== mat[i][j] * vec[j];
            acc += prod[i][j];
        }
        out[i] <== acc;
    }
}
