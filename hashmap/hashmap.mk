# hashmap/ build fragment (filled in with the library).
