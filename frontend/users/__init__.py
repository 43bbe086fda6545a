"""Users: admins list, create and delete users and change roles; everyone changes their
own password."""
