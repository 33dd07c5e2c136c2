import factory

from apps.incidents.models import Region, Service, ServiceGroup


class RegionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Region
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"r{n}")
    name = factory.LazyAttribute(lambda o: o.code.upper())
    time_zone = "UTC"


class ServiceGroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ServiceGroup

    name = factory.Sequence(lambda n: f"Group {n}")


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"service-{n}")
    name = factory.LazyAttribute(lambda o: o.slug.replace("-", " ").title())
    group = factory.SubFactory(ServiceGroupFactory)


# The all-clear a confirmed incident needs to resolve (apps.incidents.services.incident_resolve).
ALL_CLEAR = {
    "what_was_affected": "Card payments in Europe.",
    "root_cause": "A failed database failover.",
    "what_we_fixed": "We moved traffic to the healthy replica.",
    "prevention": "We test failover weekly.",
}
