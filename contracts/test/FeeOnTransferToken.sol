// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title FeeOnTransferToken
/// @notice TEST ONLY: an ERC-20 that burns `feeBps` basis points of every transfer between two
///         accounts, so the receiver gets less than the amount sent. The escrow must refuse it.
contract FeeOnTransferToken is ERC20 {
    /// @notice The fee in basis points.
    uint256 public immutable feeBps;

    /// @notice Creates the token.
    /// @param feeBps_ The fee in basis points (at most 10000).
    constructor(uint256 feeBps_) ERC20("Fee Token", "FEE") {
        require(feeBps_ <= 10_000, "fee above 100%");
        feeBps = feeBps_;
    }

    /// @notice Mints `amount` to `to` (anyone may call; test only).
    /// @param to The receiver.
    /// @param amount The amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }

    /// @dev Burns the fee from every transfer that is not a mint or a burn.
    function _update(address from, address to, uint256 value) internal override {
        if (from != address(0) && to != address(0)) {
            uint256 fee = (value * feeBps) / 10_000;
            super._update(from, address(0), fee);
            value -= fee;
        }
        super._update(from, to, value);
    }
}
