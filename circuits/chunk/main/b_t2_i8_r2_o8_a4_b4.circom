// Generated from circuits/chunk-shapes.json by src/zk (chunk pipeline). Do not edit.
pragma circom 2.1.0;

include "../chunk_b.circom";

component main {public [hB, rho, Lin, Lout, fIn, fOut]} = LoraChunkB(2, 4);
