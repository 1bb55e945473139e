// Generated from circuits/delivery-shapes.json by src/zk (delivery pipeline). Do not edit.
pragma circom 2.1.0;

include "../lora_delivery.circom";

component main {public [C_m, hK, hC]} = LoraDelivery(64, 4, 32);
