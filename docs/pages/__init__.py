"""The pages of the site: each module turns the code's own objects into one or more pages."""
