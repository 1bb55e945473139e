// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGroth16Verifier5} from "../interfaces/IGroth16Verifier5.sol";
import {IGroth16Verifier6} from "../interfaces/IGroth16Verifier6.sol";

/// @title SignalBookVerifier5
/// @notice TEST ONLY, NEVER DEPLOY: accepts a "proof" exactly when its A point and public signals were
///         recorded with `allow`. Used only by the Solidity tests of `ChunkedModuleVerifier` to check, over
///         fuzzed chains, that it hands each chunk proof exactly the public signals the chain defines.
///         Real chunk proofs and the generated verifiers: test/contracts/chunked.test.ts.
contract SignalBookVerifier5 is IGroth16Verifier5 {
    mapping(bytes32 => bool) private _allowed;

    /// @notice Records a proof (identified by its A point) and the signals it verifies with.
    /// @param a The proof's A point.
    /// @param signals The public signals.
    function allow(uint256[2] calldata a, uint256[5] calldata signals) external {
        _allowed[keccak256(abi.encode(a, signals))] = true;
    }

    /// @inheritdoc IGroth16Verifier5
    function verifyProof(
        uint256[2] calldata _pA,
        uint256[2][2] calldata,
        uint256[2] calldata,
        uint256[5] calldata _pubSignals
    ) external view returns (bool) {
        return _allowed[keccak256(abi.encode(_pA, _pubSignals))];
    }
}

/// @title SignalBookVerifier6
/// @notice TEST ONLY, NEVER DEPLOY: `SignalBookVerifier5` for six public signals.
contract SignalBookVerifier6 is IGroth16Verifier6 {
    mapping(bytes32 => bool) private _allowed;

    /// @notice Records a proof (identified by its A point) and the signals it verifies with.
    /// @param a The proof's A point.
    /// @param signals The public signals.
    function allow(uint256[2] calldata a, uint256[6] calldata signals) external {
        _allowed[keccak256(abi.encode(a, signals))] = true;
    }

    /// @inheritdoc IGroth16Verifier6
    function verifyProof(
        uint256[2] calldata _pA,
        uint256[2][2] calldata,
        uint256[2] calldata,
        uint256[6] calldata _pubSignals
    ) external view returns (bool) {
        return _allowed[keccak256(abi.encode(_pA, _pubSignals))];
    }
}
