// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title VerifierRegistry
/// @notice Append-only map from a zklora circuit shape `(variant, T, DIN, R, DOUT)` to the Groth16
///         verifier contract of that shape. Once a shape is registered its verifier can never be
///         replaced or removed, so no verification key can be swapped under a live deal (deals also
///         copy the verifier address when they are proposed).
/// @dev `shapeId = keccak256(abi.encode(bytes32 variant, uint256 T, uint256 DIN, uint256 R, uint256 DOUT))`,
///      identical to `shapeId(shape)` in src/zk and to `circuits/shapes.json` (ARCHITECTURE.md).
///      Only the owner registers shapes; the owner has no other power.
contract VerifierRegistry is Ownable {
    /// @notice The circuit variant of the first zklora LoRA-module circuit, `bytes32("zklora.lora-module.v1")`.
    bytes32 public constant VARIANT_V1 = "zklora.lora-module.v1";

    /// @notice A registered shape.
    /// @param verifier The Groth16 verifier of the shape (never zero for a registered shape).
    /// @param variant The circuit variant (hashing / packing layout).
    /// @param t Rows of activations (batch x sequence, zero-padded).
    /// @param din Input width of the LoRA module.
    /// @param r The LoRA rank.
    /// @param dout Output width of the LoRA module.
    struct Shape {
        address verifier;
        bytes32 variant;
        uint256 t;
        uint256 din;
        uint256 r;
        uint256 dout;
    }

    mapping(bytes32 shapeId => Shape) private _shapes;
    bytes32[] private _shapeIds;

    /// @notice The circuit variant of the weight-delivery circuit, `bytes32("zklora.lora-delivery.v1")`.
    bytes32 public constant DELIVERY_VARIANT_V1 = "zklora.lora-delivery.v1";

    /// @notice A registered delivery verifier: proves that a ciphertext encrypts the weights of a
    ///         `din x r` / `r x dout` LoRA module behind a commitment (public signals `[C_m, hK, hC]`).
    struct DeliveryShape {
        address verifier;
        uint256 din;
        uint256 r;
        uint256 dout;
    }

    mapping(bytes32 deliveryShapeId => DeliveryShape) private _deliveryShapes;
    bytes32[] private _deliveryShapeIds;

    /// @notice Emitted once per shape, when it is registered.
    event ShapeRegistered(
        bytes32 indexed shapeId,
        address indexed verifier,
        bytes32 variant,
        uint256 t,
        uint256 din,
        uint256 r,
        uint256 dout
    );

    /// @notice Emitted once per weight shape, when its delivery verifier is registered.
    event DeliveryShapeRegistered(
        bytes32 indexed deliveryShapeId,
        address indexed verifier,
        uint256 din,
        uint256 r,
        uint256 dout
    );

    /// @notice The weight shape has a delivery verifier already; it can never be replaced.
    error DeliveryShapeAlreadyRegistered(bytes32 deliveryShapeId, address verifier);
    /// @notice A weight-shape dimension is zero.
    error InvalidDeliveryShape(uint256 din, uint256 r, uint256 dout);

    /// @notice The shape is registered already; its verifier can never be replaced.
    error ShapeAlreadyRegistered(bytes32 shapeId, address verifier);
    /// @notice The verifier address is zero.
    error ZeroVerifier();
    /// @notice The verifier address holds no code (not deployed yet, or an EOA).
    error VerifierHasNoCode(address verifier);
    /// @notice A dimension is zero or the variant is empty.
    error InvalidShape(bytes32 variant, uint256 t, uint256 din, uint256 r, uint256 dout);
    /// @notice No verifier is registered for this shape id.
    error UnknownShape(bytes32 shapeId);

    /// @notice Creates an empty registry.
    /// @param initialOwner The account allowed to register shapes.
    constructor(address initialOwner) Ownable(initialOwner) {}

    /// @notice The id of a shape, as the deals and the off-chain tools name it.
    /// @param variant The circuit variant, e.g. `VARIANT_V1`.
    /// @param t Rows of activations.
    /// @param din Input width.
    /// @param r LoRA rank.
    /// @param dout Output width.
    /// @return The shape id `keccak256(abi.encode(variant, t, din, r, dout))`.
    function shapeIdOf(
        bytes32 variant,
        uint256 t,
        uint256 din,
        uint256 r,
        uint256 dout
    ) public pure returns (bytes32) {
        return keccak256(abi.encode(variant, t, din, r, dout));
    }

    /// @notice Registers the verifier of a new shape (owner only, once per shape).
    /// @dev Reverts with `ShapeAlreadyRegistered` for a known shape, `ZeroVerifier` / `VerifierHasNoCode`
    ///      for an unusable verifier and `InvalidShape` for a zero dimension or an empty variant.
    /// @param variant The circuit variant.
    /// @param t Rows of activations.
    /// @param din Input width.
    /// @param r LoRA rank.
    /// @param dout Output width.
    /// @param verifier The deployed Groth16 verifier of the shape.
    /// @return shapeId The new shape's id.
    function register(
        bytes32 variant,
        uint256 t,
        uint256 din,
        uint256 r,
        uint256 dout,
        address verifier
    ) external onlyOwner returns (bytes32 shapeId) {
        if (variant == bytes32(0) || t == 0 || din == 0 || r == 0 || dout == 0) {
            revert InvalidShape(variant, t, din, r, dout);
        }
        if (verifier == address(0)) revert ZeroVerifier();
        if (verifier.code.length == 0) revert VerifierHasNoCode(verifier);
        shapeId = shapeIdOf(variant, t, din, r, dout);
        address existing = _shapes[shapeId].verifier;
        if (existing != address(0)) revert ShapeAlreadyRegistered(shapeId, existing);
        _shapes[shapeId] = Shape({verifier: verifier, variant: variant, t: t, din: din, r: r, dout: dout});
        _shapeIds.push(shapeId);
        emit ShapeRegistered(shapeId, verifier, variant, t, din, r, dout);
    }

    /// @notice The verifier of a shape, or the zero address when the shape is unknown.
    /// @param shapeId The shape id.
    /// @return The verifier address.
    function verifierOf(bytes32 shapeId) external view returns (address) {
        return _shapes[shapeId].verifier;
    }

    /// @notice Whether a shape is registered.
    /// @param shapeId The shape id.
    /// @return True when registered.
    function isRegistered(bytes32 shapeId) external view returns (bool) {
        return _shapes[shapeId].verifier != address(0);
    }

    /// @notice A registered shape's dimensions and verifier; reverts with `UnknownShape` otherwise.
    /// @param shapeId The shape id.
    /// @return The shape.
    function getShape(bytes32 shapeId) external view returns (Shape memory) {
        Shape memory shape = _shapes[shapeId];
        if (shape.verifier == address(0)) revert UnknownShape(shapeId);
        return shape;
    }

    /// @notice How many shapes are registered.
    /// @return The count.
    function shapeCount() external view returns (uint256) {
        return _shapeIds.length;
    }

    /// @notice The id of the `index`-th registered shape (registration order).
    /// @param index Position, below `shapeCount()`.
    /// @return The shape id.
    function shapeIdAt(uint256 index) external view returns (bytes32) {
        return _shapeIds[index];
    }

    // ------------------------------------------------------------------ batch verifiers

    mapping(bytes32 shapeId => address) private _batchVerifiers;
    bytes32[] private _batchShapeIds;

    /// @notice Emitted once per shape, when its batch verifier is registered.
    event BatchVerifierRegistered(bytes32 indexed shapeId, address indexed batchVerifier);

    /// @notice The shape has a batch verifier already; it can never be replaced.
    error BatchVerifierAlreadyRegistered(bytes32 shapeId, address batchVerifier);

    /// @notice Registers the batch verifier of a registered shape (owner only, once per shape: append-only).
    /// @dev The batch verifier (`Groth16BatchVerifier`) must hold exactly the verification key of the
    ///      shape's verifier; the owner vouches for that as for the verifier itself (src/chain/deploy.ts
    ///      builds it from the constants of the committed `Groth16Verifier_<shape>.sol`). Deals copy it
    ///      at proposal, so registering one later never changes a proposed deal. Reverts with
    ///      `UnknownShape`, `ZeroVerifier`, `VerifierHasNoCode` or `BatchVerifierAlreadyRegistered`.
    /// @param shapeId A registered shape.
    /// @param batchVerifier The deployed batch verifier of the shape's key.
    function registerBatchVerifier(bytes32 shapeId, address batchVerifier) external onlyOwner {
        if (_shapes[shapeId].verifier == address(0)) revert UnknownShape(shapeId);
        if (batchVerifier == address(0)) revert ZeroVerifier();
        if (batchVerifier.code.length == 0) revert VerifierHasNoCode(batchVerifier);
        address existing = _batchVerifiers[shapeId];
        if (existing != address(0)) revert BatchVerifierAlreadyRegistered(shapeId, existing);
        _batchVerifiers[shapeId] = batchVerifier;
        _batchShapeIds.push(shapeId);
        emit BatchVerifierRegistered(shapeId, batchVerifier);
    }

    /// @notice The batch verifier of a shape, or the zero address when it has none.
    /// @param shapeId The shape id.
    /// @return The batch verifier.
    function batchVerifierOf(bytes32 shapeId) external view returns (address) {
        return _batchVerifiers[shapeId];
    }

    /// @notice A shape's verifier and batch verifier (zero when unknown / none), in one call.
    /// @param shapeId The shape id.
    /// @return verifier The shape's Groth16 verifier.
    /// @return batchVerifier The shape's batch verifier.
    function verifiersOf(bytes32 shapeId) external view returns (address verifier, address batchVerifier) {
        return (_shapes[shapeId].verifier, _batchVerifiers[shapeId]);
    }

    /// @notice How many shapes have a batch verifier.
    /// @return The count.
    function batchShapeCount() external view returns (uint256) {
        return _batchShapeIds.length;
    }

    /// @notice The id of the `index`-th shape that got a batch verifier (registration order).
    /// @param index Position, below `batchShapeCount()`.
    /// @return The shape id.
    function batchShapeIdAt(uint256 index) external view returns (bytes32) {
        return _batchShapeIds[index];
    }

    // ------------------------------------------------------------------ delivery verifiers

    /// @notice The id of a weight shape (the LoRA matrices of one module), as delivery proofs name it.
    /// @param din Input width.
    /// @param r LoRA rank.
    /// @param dout Output width.
    /// @return The id `keccak256(abi.encode(DELIVERY_VARIANT_V1, din, r, dout))`.
    function deliveryShapeIdOf(uint256 din, uint256 r, uint256 dout) public pure returns (bytes32) {
        return keccak256(abi.encode(DELIVERY_VARIANT_V1, din, r, dout));
    }

    /// @notice Registers the delivery verifier of a weight shape (owner only, once per shape: append-only).
    /// @dev Reverts with `DeliveryShapeAlreadyRegistered`, `ZeroVerifier`, `VerifierHasNoCode` or
    ///      `InvalidDeliveryShape`.
    /// @param din Input width.
    /// @param r LoRA rank.
    /// @param dout Output width.
    /// @param verifier The deployed `Groth16Delivery_<shape>` verifier.
    /// @return deliveryShapeId The weight shape's id.
    function registerDelivery(
        uint256 din,
        uint256 r,
        uint256 dout,
        address verifier
    ) external onlyOwner returns (bytes32 deliveryShapeId) {
        if (din == 0 || r == 0 || dout == 0) revert InvalidDeliveryShape(din, r, dout);
        if (verifier == address(0)) revert ZeroVerifier();
        if (verifier.code.length == 0) revert VerifierHasNoCode(verifier);
        deliveryShapeId = deliveryShapeIdOf(din, r, dout);
        address existing = _deliveryShapes[deliveryShapeId].verifier;
        if (existing != address(0)) revert DeliveryShapeAlreadyRegistered(deliveryShapeId, existing);
        _deliveryShapes[deliveryShapeId] = DeliveryShape({verifier: verifier, din: din, r: r, dout: dout});
        _deliveryShapeIds.push(deliveryShapeId);
        emit DeliveryShapeRegistered(deliveryShapeId, verifier, din, r, dout);
    }

    /// @notice The delivery verifier of a weight shape, or the zero address when none is registered.
    /// @param deliveryShapeId The weight shape's id.
    /// @return The verifier address.
    function deliveryVerifierOf(bytes32 deliveryShapeId) public view returns (address) {
        return _deliveryShapes[deliveryShapeId].verifier;
    }

    /// @notice The delivery verifier for the weights of a registered module shape (same DIN, R, DOUT),
    ///         or the zero address when the module shape or its weight shape is unknown, or when the module
    ///         shape is not of variant `VARIANT_V1` (a delivery proof binds the v1 weight commitment
    ///         `Sponge_1(A || B || salt)`; the chunked variant commits to its weights differently).
    /// @param shapeId A module shape id.
    /// @return verifier The delivery verifier.
    /// @return deliveryShapeId The weight shape's id (zero when the module shape is unknown).
    function deliveryVerifierForShape(
        bytes32 shapeId
    ) external view returns (address verifier, bytes32 deliveryShapeId) {
        Shape storage shape = _shapes[shapeId];
        if (shape.verifier == address(0)) return (address(0), bytes32(0));
        deliveryShapeId = deliveryShapeIdOf(shape.din, shape.r, shape.dout);
        if (shape.variant != VARIANT_V1) return (address(0), deliveryShapeId);
        verifier = _deliveryShapes[deliveryShapeId].verifier;
    }

    /// @notice A registered weight shape; reverts with `UnknownShape` otherwise.
    /// @param deliveryShapeId The weight shape's id.
    /// @return The weight shape and its verifier.
    function getDeliveryShape(bytes32 deliveryShapeId) external view returns (DeliveryShape memory) {
        DeliveryShape memory shape = _deliveryShapes[deliveryShapeId];
        if (shape.verifier == address(0)) revert UnknownShape(deliveryShapeId);
        return shape;
    }

    /// @notice How many weight shapes have a delivery verifier.
    /// @return The count.
    function deliveryShapeCount() external view returns (uint256) {
        return _deliveryShapeIds.length;
    }

    /// @notice The id of the `index`-th registered weight shape (registration order).
    /// @param index Position, below `deliveryShapeCount()`.
    /// @return The weight shape id.
    function deliveryShapeIdAt(uint256 index) external view returns (bytes32) {
        return _deliveryShapeIds[index];
    }
}
