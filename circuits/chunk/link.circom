pragma circom 2.1.0;

include "../sponge.circom";

// ChunkLink(R): the link value between two chunk proofs of the chunked variant (circuits/README.md,
// "Chunked module proofs"): out = PoseidonSponge_6(u[0..R-1] || pw || blind), R + 2 elements.
// u is the running vector xr^T·A, pw the fingerprint's running power of rho, blind a fresh random
// element that makes the link hiding.
template ChunkLink(R) {
    signal input u[R];
    signal input pw;
    signal input blind;
    signal output out;

    component h = PoseidonSponge(R + 2, 6);
    for (var k = 0; k < R; k++) {
        h.in[k] <== u[k];
    }
    h.in[R] <== pw;
    h.in[R + 1] <== blind;
    out <== h.out;
}
