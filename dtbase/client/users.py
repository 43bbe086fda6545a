from __future__ import annotations

from dtbase.client.resource import Resource
from dtbase.schemas.common import Msg
from dtbase.schemas.users import (
    ChangePasswordRequest,
    CreateUserRequest,
    DeleteUserRequest,
    Role,
    SetRoleRequest,
    UserDetails,
)


class Users(Resource):
    def me(self) -> UserDetails:
        return self._client.get("/user/me", UserDetails)

    def list_users(self) -> list[str]:
        return self._client.get("/user/list-users", list[str])

    def list_users_details(self) -> list[UserDetails]:
        return self._client.get("/user/list-users-details", list[UserDetails])

    def create_user(self, email: str, password: str, role: Role = Role.user) -> Msg:
        body = CreateUserRequest(email=email, password=password, role=role)
        return self._client.post("/user/create-user", body.model_dump(mode="json"), Msg)

    def delete_user(self, email: str) -> Msg:
        body = DeleteUserRequest(email=email)
        return self._client.post("/user/delete-user", body.model_dump(), Msg)

    def change_password(self, email: str, password: str) -> Msg:
        """Change a password. The backend ends that user's sessions: when it is this
        client's own user, the client logs in again with the new password."""
        body = ChangePasswordRequest(email=email, password=password)
        answer = self._client.post("/user/change-password", body.model_dump(), Msg)
        self._client.password_changed(email, password)
        return answer

    def set_role(self, email: str, role: Role) -> Msg:
        body = SetRoleRequest(email=email, role=role)
        return self._client.post("/user/set-role", body.model_dump(mode="json"), Msg)
