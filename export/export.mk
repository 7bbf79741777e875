# export/ build fragment (filled in with the writers).
