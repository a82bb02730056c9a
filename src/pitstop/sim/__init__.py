"""The car simulator: physics models of cars and the clients that connect them."""
