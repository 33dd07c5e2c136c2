import factory
from django.utils import timezone

from apps.subscribers.choices import CustomerTier, SubscriberSource
from apps.subscribers.models import Customer, Segment, Subscriber, Subscription, Suppression


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        django_get_or_create = ("external_key",)

    name = factory.Sequence(lambda n: f"Customer {n}")
    external_key = factory.Sequence(lambda n: f"cust-{n}")
    tier = CustomerTier.STANDARD


class SubscriberFactory(factory.django.DjangoModelFactory):
    """A confirmed subscriber to every service, kind and channel (by default).

    `subscription__services=[...]` subscribes to those services only; any other
    `subscription__<field>` sets that Subscription field (`channels`, `kinds`)."""

    class Meta:
        model = Subscriber
        skip_postgeneration_save = True

    class Params:
        unconfirmed = factory.Trait(confirmed_at=None)

    email = factory.Sequence(lambda n: f"subscriber{n}@example.com")
    confirmed_at = factory.LazyFunction(timezone.now)
    source = SubscriberSource.IMPORT

    @factory.post_generation
    def subscription(obj: Subscriber, create: bool, extracted: object, **kwargs: object) -> None:
        if not create:
            return
        services = kwargs.pop("services", None)
        subscription = Subscription.objects.create(
            subscriber=obj, all_services=services is None, **kwargs
        )
        if services:
            subscription.services.set(services)


class SegmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Segment

    name = factory.Sequence(lambda n: f"Segment {n}")


class SuppressionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Suppression

    channel = "email"
    address = factory.Sequence(lambda n: f"suppressed{n}@example.com")
    reason = "bounced"
