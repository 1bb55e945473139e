// Generated from circuits/shapes.json by src/zk (zklora:circuits). Do not edit.
pragma circom 2.1.0;

include "../lora_module.circom";

component main {public [C_m, hX, rho, fY]} = LoraModule(3, 5, 3, 4);
