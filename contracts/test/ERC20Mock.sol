// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";

/// @title ERC20Mock
/// @notice TEST ONLY: a plain ERC-20 anyone can mint, used as the payment token in escrow tests.
contract ERC20Mock is ERC20 {
    /// @notice Creates the token.
    /// @param name_ The name.
    /// @param symbol_ The symbol.
    constructor(string memory name_, string memory symbol_) ERC20(name_, symbol_) {}

    /// @notice Mints `amount` to `to` (anyone may call; test only).
    /// @param to The receiver.
    /// @param amount The amount.
    function mint(address to, uint256 amount) external {
        _mint(to, amount);
    }
}
