import factory

from apps.accounts.models import User

PASSWORD = "correct horse battery"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"person{n}@example.com")
    # Fixed names: a random one can contain the text a test looks for on a page.
    first_name = "Staff"
    last_name = factory.Sequence(lambda n: f"Member{n}")
    is_staff = True
    password = factory.django.Password(PASSWORD)
