// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable, Ownable2Step} from "@openzeppelin/contracts/access/Ownable2Step.sol";

/// @notice What the registry reads of a v2 shape verifier.
interface IShapeVerifierV2 {
    function shapeId() external view returns (bytes32);
    function keyHash() external view returns (bytes32);
}

/// @notice What the registry reads of the key-wrap verifier.
interface IKeyWrapVerifierV2 {
    function keyHash() external view returns (bytes32);
}

/// @title ShapeRegistryV2
/// @notice Append-only registry of protocol-v2 shape verifiers: one `LoraModuleVerifierV2` per shape id, which
///         holds both the single and the batch check, so nothing can be attached to a shape after it is
///         registered, and a registered shape never changes.
/// @dev The owner only adds shapes. Buyers do not trust the owner: before funding they re-derive every constant
///      of the verifier their deal uses (its `keyHash`) from the pinned r1cs and ptau.
contract ShapeRegistryV2 is Ownable2Step {
    /// @notice The verifier of each registered shape id (zero when absent).
    mapping(bytes32 shapeId => address verifier) public verifierOf;
    /// @notice The verifier's `keyHash` at registration.
    mapping(bytes32 shapeId => bytes32 keyHash) public keyHashOf;

    /// @notice The key-wrap verifier of delivery deals (`LoraKeyWrapVerifierV2`; zero until set, then permanent).
    address public wrapVerifier;
    /// @notice The wrap verifier's `keyHash` at registration.
    bytes32 public wrapKeyHash;

    /// @notice A shape was registered.
    /// @param shapeId The shape id (`keccak256(abi.encode("zklora.lora-module.v2", DIN, R, DOUT))`).
    /// @param verifier Its verifier.
    /// @param keyHash The verifier's key hash.
    event ShapeRegistered(bytes32 indexed shapeId, address indexed verifier, bytes32 keyHash);

    /// @notice The key-wrap verifier was registered.
    /// @param verifier The verifier.
    /// @param keyHash Its key hash.
    event WrapVerifierRegistered(address indexed verifier, bytes32 keyHash);

    /// @notice The key-wrap verifier is registered already (registrations are permanent).
    error WrapVerifierAlreadyRegistered(address verifier);
    /// @notice `shapeId` is registered already (registrations are permanent).
    error ShapeAlreadyRegistered(bytes32 shapeId);
    /// @notice `verifier` is not a contract.
    error NotAContract(address verifier);

    /// @notice Creates an empty registry.
    /// @param initialOwner The account that may register shapes.
    constructor(address initialOwner) Ownable(initialOwner) {}

    /// @notice Registers a shape's verifier under the shape id it reports; permanent.
    /// @param verifier A `LoraModuleVerifierV2`.
    /// @return shapeId The shape id registered.
    function register(address verifier) external onlyOwner returns (bytes32 shapeId) {
        if (verifier.code.length == 0) revert NotAContract(verifier);
        shapeId = IShapeVerifierV2(verifier).shapeId();
        if (verifierOf[shapeId] != address(0)) revert ShapeAlreadyRegistered(shapeId);
        bytes32 keyHash = IShapeVerifierV2(verifier).keyHash();
        verifierOf[shapeId] = verifier;
        keyHashOf[shapeId] = keyHash;
        emit ShapeRegistered(shapeId, verifier, keyHash);
    }

    /// @notice Registers the key-wrap verifier of delivery deals; permanent.
    /// @param verifier A `LoraKeyWrapVerifierV2`.
    function registerWrapVerifier(address verifier) external onlyOwner {
        if (verifier.code.length == 0) revert NotAContract(verifier);
        if (wrapVerifier != address(0)) revert WrapVerifierAlreadyRegistered(wrapVerifier);
        bytes32 keyHash = IKeyWrapVerifierV2(verifier).keyHash();
        wrapVerifier = verifier;
        wrapKeyHash = keyHash;
        emit WrapVerifierRegistered(verifier, keyHash);
    }
}
