"""The global permission backend: a person's own and their roles' permissions, read in one query."""

import pytest
from django.contrib.auth.models import Permission

from registry import services
from registry.models import User
from registry.roles import Role
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def fresh(user):
    # Permissions are cached on the user object; a request starts with a new one.
    return User.objects.get(pk=user.pk)


def test_a_person_has_their_own_and_their_roles_permissions_in_one_query(django_assert_num_queries):
    # given: a leadership viewer who was also granted one permission directly
    person = UserFactory()
    services.set_user_roles(person, [Role.LEADERSHIP], actor=None)
    person.user_permissions.add(Permission.objects.get(codename="add_tool"))
    person = fresh(person)
    # when / then
    with django_assert_num_queries(1):
        assert person.has_perm("registry.add_tool")  # their own
        assert person.has_perm("registry.view_agent")  # their role's
        assert person.has_perm("portfolio.view_portfolio")
        assert not person.has_perm("registry.change_agent")  # neither
    assert person.get_all_permissions() == person.get_user_permissions() | person.get_group_permissions()


def test_an_employee_without_roles_has_no_global_permission():
    assert fresh(UserFactory()).get_all_permissions() == set()


def test_a_deactivated_account_has_no_permission_left():
    person = UserFactory()
    services.set_user_roles(person, [Role.PLATFORM_ADMIN], actor=None)
    person.is_active = False
    person.save()
    assert not fresh(person).has_perm("registry.view_agent")


def test_a_superuser_has_every_permission():
    root = UserFactory(is_superuser=True)
    assert len(fresh(root).get_all_permissions()) == Permission.objects.count()
