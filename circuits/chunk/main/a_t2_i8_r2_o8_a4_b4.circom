// Generated from circuits/chunk-shapes.json by src/zk (chunk pipeline). Do not edit.
pragma circom 2.1.0;

include "../chunk_a.circom";

component main {public [hA, hX, rho, Lin, Lout]} = LoraChunkA(2, 4, 2, 8);
