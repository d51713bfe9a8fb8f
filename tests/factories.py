"""factory-boy factories."""

from __future__ import annotations

from typing import Any

import factory

from watchhouse.accounts.models import RoleAssignment, User

PASSWORD = "correct horse battery staple 42"  # noqa: S105 - test fixture


class StaffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"officer{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@police.example")
    first_name = "Pat"
    last_name = factory.Sequence(lambda n: f"Officer{n}")
    is_staff = True
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs: Any) -> None:
        for role in extracted or []:
            RoleAssignment.objects.create(user=self, role=role)
