# interpose/ build fragment.
