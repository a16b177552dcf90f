"""push_receiver: the signed HTTP push from the other cloud; runs the stage of the pushed topic."""
