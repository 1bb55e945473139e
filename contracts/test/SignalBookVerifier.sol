// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {IGroth16BatchVerifierN} from "../interfaces/IGroth16BatchVerifierN.sol";
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

/// @title SignalBookBatchVerifier
/// @notice TEST ONLY, NEVER DEPLOY: an `IGroth16BatchVerifierN` over a signal book (`SignalBookVerifier5` for
///         N = 5, `SignalBookVerifier6` for N = 6) that accepts a batch exactly when the book accepts every
///         proof in it, or rejects every batch after `setRejectAll(true)` (a batch verifier that disagrees with
///         its generated verifier). Used only by the Solidity tests of `ChunkedModuleVerifier`.
contract SignalBookBatchVerifier is IGroth16BatchVerifierN {
    address private immutable _book;
    uint256 private immutable _signals;
    bool private _rejectAll;

    /// @notice Creates the batch verifier of `book`, whose proofs have `signals` (5 or 6) public signals.
    /// @param book The signal book.
    /// @param signals 5 or 6.
    constructor(address book, uint256 signals) {
        require(signals == 5 || signals == 6, "5 or 6 signals");
        _book = book;
        _signals = signals;
    }

    /// @notice Makes every later batch fail (true) or be answered by the book again (false).
    /// @param rejectAll Whether to reject every batch.
    function setRejectAll(bool rejectAll) external {
        _rejectAll = rejectAll;
    }

    /// @inheritdoc IGroth16BatchVerifierN
    function verifyBatch(BatchProof[] calldata proofs) external view returns (bool) {
        if (proofs.length == 0) revert EmptyBatch();
        if (_rejectAll) return false;
        for (uint256 i = 0; i < proofs.length; ++i) {
            BatchProof calldata p = proofs[i];
            uint256[] calldata s = p.signals;
            if (s.length != _signals) revert WrongSignalCount(i, _signals, s.length);
            bool ok =
                _signals == 5
                    ? IGroth16Verifier5(_book).verifyProof(p.a, p.b, p.c, [s[0], s[1], s[2], s[3], s[4]])
                    : IGroth16Verifier6(_book).verifyProof(
                        p.a,
                        p.b,
                        p.c,
                        [s[0], s[1], s[2], s[3], s[4], s[5]]
                    );
            if (!ok) return false;
        }
        return true;
    }

    /// @inheritdoc IGroth16BatchVerifierN
    function publicSignalCount() external view returns (uint256) {
        return _signals;
    }

    /// @inheritdoc IGroth16BatchVerifierN
    function verificationKeyHash() external pure returns (bytes32) {
        return bytes32(0);
    }
}
