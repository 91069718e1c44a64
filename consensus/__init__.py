"""The consistency domain: agreement, HLP, consensus, review, standardisation, merges."""
